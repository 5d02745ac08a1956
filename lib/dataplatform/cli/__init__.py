"""The invoke commands: argument handling and rich output around the library.

invoke turns bytecode caching off before it loads `tasks.py` (so no `__pycache__` appears
beside it), which also stops every toolkit module imported from there being cached: each
command would compile them all again. The interpreter's own setting (`-B`,
`PYTHONDONTWRITEBYTECODE`) is restored here, first thing, for the modules imported after.
"""

import sys

sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)
