"""Image contexts for the doit image tests: `image_project` writes N small multi-stage
contexts (with a .dockerignore) on a base into a throwaway checkout's services.yaml."""

from __future__ import annotations

from support.projects import TempProject


def image_project(
    project: TempProject,
    busybox: str,
    names: list[str],
    run_step: str = "RUN date +%s%N > /built-at",
) -> None:
    body = ""
    for name in names:
        context = f"platform/images/{name}"
        project.write(
            f"{context}/Dockerfile",
            f"FROM {busybox}\nARG FLAVOUR=plain\nCOPY . /app\n{run_step}\n"
            "FROM scratch AS slim\nCOPY --from=0 /app /app\n"
            f"FROM {busybox} AS final\nCOPY --from=0 /app /app\n",
        )
        project.write(f"{context}/app.py", f"print('{name}')\n")
        project.write(f"{context}/lib/util.py", "X = 1\n")
        project.write(f"{context}/notes.md", "ignored\n")
        project.write(f"{context}/.dockerignore", "*.md\n")
        body += f"  {name}:\n    build:\n      context: images/{name}\n"
    project.services(body)
