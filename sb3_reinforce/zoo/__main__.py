"""``python -m sb3_reinforce.zoo``: see :mod:`sb3_reinforce.zoo.cli`."""

from sb3_reinforce.zoo.cli import main

if __name__ == "__main__":
    main()
