"""The ``hub`` commands, one module per group; :mod:`hub_cli.main` joins them into one app."""
