"""The repository's task graph seen from outside a doit run: what a change affects
(`affected`), why a task would run (`status`), the graph drawn (`render`), every config
checked at once (`validate`) and re-running on save (`watch`). The graph is the one `dodo.py`
declares, read through doit's own loader; the inputs come from `build.inputs`."""
