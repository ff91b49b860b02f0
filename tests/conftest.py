import torch as th

# Tiny networks: one thread is faster, and pytest-xdist workers do not oversubscribe the cores
th.set_num_threads(1)
