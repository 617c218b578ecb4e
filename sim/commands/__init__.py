"""Sub-commands of ``dialsim``: one module each, with ``add_parser(sub)`` and ``run(args)``."""
