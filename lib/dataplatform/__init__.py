"""dataplatform: the toolkit of a data team's monorepo.

Content-addressed image builds, generated pipeline artifacts and the local platform's lifecycle.
`dodo.py` (doit) and `tasks.py` (invoke) only delegate to the modules of this package.
"""

__version__ = "0.1.0"
