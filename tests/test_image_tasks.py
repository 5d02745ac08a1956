"""`doit` image tasks against a real Docker engine: what rebuilds, what does not, failures,
parallel runs, and a missing engine."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import urllib.parse
from pathlib import Path

import docker.errors
import pytest

from support import TempProject, executed, image_project, repository_tags, require, unique_name

pytestmark = pytest.mark.docker

PAST = 1_600_000_000


def image_ids(docker_client, name: str) -> set[str]:
    return {i["Id"] for i in docker_client.api.images(name=name)}


@pytest.fixture
def one_image(project: TempProject, busybox_image: str) -> tuple[TempProject, str]:
    name = unique_name()
    image_project(project, busybox_image, [name])
    return project, name


def test_builds_then_no_op_then_rebuilds_exactly_on_content(one_image, docker_client) -> None:
    project, name = one_image
    first = project.doit()
    assert first.returncode == 0, first.stdout + first.stderr
    assert executed(first) == [f"image:{name}"]
    [tag] = repository_tags(docker_client, name)
    assert re.fullmatch(rf"{name}:fp-[0-9a-f]{{16}}", tag)
    labels = docker_client.api.inspect_image(tag)["Config"]["Labels"]
    assert labels["dataplatform.project"] == project.namespace
    assert labels["dataplatform.fingerprint"].startswith(tag.split("fp-")[1])
    assert len(labels["dataplatform.fingerprint"]) == 64

    no_op = project.doit()
    assert no_op.returncode == 0 and executed(no_op) == []
    assert "1 up to date" in no_op.stdout

    context = project.root / "platform/images" / name
    (context / "notes.md").write_text("ignored files do not count\n")
    for path in context.rglob("*"):
        os.utime(path, (PAST, PAST))
    assert executed(project.doit()) == []

    (context / "lib/util.py").write_text("X = 2\n")
    rebuilt = project.doit()
    assert executed(rebuilt) == [f"image:{name}"]
    assert len(repository_tags(docker_client, name)) == 2


@pytest.mark.parametrize("change", ["dockerfile", "target", "arg", "deleted"])
def test_each_input_rebuilds(one_image, docker_client, change: str) -> None:
    project, name = one_image
    done = project.doit()
    assert done.returncode == 0, done.stdout + done.stderr
    services = project.root / "platform/services.yaml"
    if change == "dockerfile":
        dockerfile = project.root / "platform/images" / name / "Dockerfile"
        dockerfile.write_text(dockerfile.read_text() + "LABEL changed=yes\n")
    elif change == "target":
        services.write_text(services.read_text() + "      target: slim\n")
    elif change == "arg":
        services.write_text(services.read_text() + "      args:\n        FLAVOUR: spicy\n")
    else:
        for tag in repository_tags(docker_client, name):
            docker_client.api.remove_image(tag)
    again = project.doit()
    assert again.returncode == 0, again.stdout + again.stderr
    assert executed(again) == [f"image:{name}"]
    assert executed(project.doit()) == []


def test_fresh_clone_of_the_same_content_builds_nothing(one_image, tmp_path: Path) -> None:
    project, _ = one_image
    done = project.doit()
    assert done.returncode == 0, done.stdout + done.stderr
    clone_root = tmp_path / "clone"
    shutil.copytree(
        project.root, clone_root, ignore=shutil.ignore_patterns(".doit.db*", ".dataplatform")
    )
    clone = TempProject(clone_root, project.namespace)
    result = clone.doit()
    assert result.returncode == 0 and executed(result) == []


def test_build_failure_shows_the_step_and_leaves_no_tag(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    name = unique_name()
    image_project(
        project,
        busybox_image,
        [name],
        run_step="RUN echo preparing && echo 'the real cause' && exit 3",
    )
    failed = project.doit()
    assert failed.returncode != 0
    out = failed.stdout + failed.stderr
    assert f"✗ image:{name}: build failed at Step 4/" in out
    assert "RUN echo preparing" in out and "the real cause" in out
    assert "Traceback" not in out
    assert repository_tags(docker_client, name) == []
    retried = project.doit()
    assert executed(retried) == [f"image:{name}"]  # nothing recorded as done: it tries again


def test_parallel_threads_build_all(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    names = [unique_name() for _ in range(6)]  # enough concurrent output to catch a race
    image_project(project, busybox_image, names)
    result = project.doit("-n", "2", "-P", "thread")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(executed(result)) == sorted(f"image:{n}" for n in names)
    for name in names:
        assert len(repository_tags(docker_client, name)) == 1
    assert executed(project.doit("-n", "2", "-P", "thread")) == []


def test_no_engine_skips_images_with_one_line(one_image) -> None:
    project, name = one_image
    result = project.doit(DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "Docker engine not reachable" in line]
    assert len(lines) == 1 and f"image:{name}" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("strict", [{"CI": "true"}, {"DATAPLATFORM_STRICT": "1"}])
def test_no_engine_fails_when_strict(one_image, strict: dict[str, str]) -> None:
    project, name = one_image
    result = project.doit(DOCKER_HOST="unix:///nonexistent/docker.sock", **strict)
    assert result.returncode != 0
    assert f"✗ image:{name}: Docker engine not reachable" in result.stdout


def test_strict_flag_on_the_command_line(one_image) -> None:
    project, name = one_image
    result = project.doit("strict=1", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode != 0
    assert f"✗ image:{name}: Docker engine not reachable" in result.stdout


def test_pipeline_declared_image_is_built_and_discovered_without_registration(
    project: TempProject, busybox_image: str, docker_client
) -> None:
    project.services("")
    pipeline = unique_name("sales")
    project.write(
        f"pipelines/{pipeline}/pipeline.yaml",
        f"name: {pipeline}\nowner: data-eng\nimages:\n  loader:\n    context: docker\n",
    )
    project.write(
        f"pipelines/{pipeline}/docker/Dockerfile", f"FROM {busybox_image}\nCOPY load.sh /load.sh\n"
    )
    project.write(f"pipelines/{pipeline}/docker/load.sh", "echo load\n", mode=0o755)
    listed = project.doit("list", "--all")
    assert f"image:{pipeline}-loader" in listed.stdout
    result = project.doit()
    assert result.returncode == 0, result.stdout + result.stderr
    assert executed(result) == [f"image:{pipeline}-loader"]
    assert len(repository_tags(docker_client, f"{pipeline}-loader")) == 1


def test_unreachable_base_image_is_one_line_unless_strict(
    project: TempProject, docker_client
) -> None:
    name = unique_name()
    project.write(
        f"platform/images/{name}/Dockerfile",
        "ARG BASE=127.0.0.1:9/offline/base:1\nFROM ${BASE}\nCOPY . /app\n",
    )
    project.services(f"  {name}:\n    build: images/{name}\n")
    relaxed = project.doit()
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    [line] = [x for x in relaxed.stdout.splitlines() if "registry is unreachable" in x]
    assert f"image:{name} (127.0.0.1:9/offline/base:1)" in line
    strict = project.doit(CI="true")
    assert strict.returncode == 1
    [failed] = [x for x in strict.stdout.splitlines() if x.startswith("✗")]
    assert failed.startswith(
        f"✗ image:{name}: base image 127.0.0.1:9/offline/base:1 is not "
        "on this engine and cannot be pulled ("
    ), failed
    assert repository_tags(docker_client, name) == []


def test_a_base_the_engine_cannot_get_sends_no_build_context(
    project: TempProject, docker_client, busybox_image: str, monkeypatch
) -> None:
    """The engine is asked for the base (one inspect, then a pull that fails offline) before
    a context is written: the builder's own count of contexts sent stays 0, whether a missing
    base is said once (default) or fails the task (strict, as under CI). Run in-process (as
    doit's main process runs actions) to read that count; the engine is real."""
    from doit.exceptions import TaskFailed

    from dataplatform.build.dodo import Loader
    from dataplatform.build.runstate import RUN
    from dataplatform.images import builder

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("DATAPLATFORM_STRICT", raising=False)

    offline, fine = unique_name(), unique_name()
    project.write(
        f"platform/images/{offline}/Dockerfile",
        "ARG BASE=127.0.0.1:9/offline/base:1\nFROM ${BASE}\nCOPY . /app\n",
    )
    project.write(f"platform/images/{offline}/data.bin", "x" * 100_000)
    project.write(f"platform/images/{fine}/Dockerfile", f"FROM {busybox_image}\nCOPY . /app\n")
    project.services(
        f"  {offline}:\n    build: images/{offline}\n  {fine}:\n    build: images/{fine}\n"
    )
    tasks = {t["name"]: t for t in Loader(project.root).image_tasks() if t.get("name")}
    builder.SENT.clear()
    assert tasks[offline]["actions"][0]() is None  # not a failure: said once, offline
    assert RUN.offline_bases[f"image:{offline}"] == "127.0.0.1:9/offline/base:1"
    assert builder.SENT[offline] == 0
    built = tasks[fine]["actions"][0]()
    assert built["how"] == "built" and builder.SENT[fine] == 1  # the count does count

    monkeypatch.setenv("CI", "true")  # strict: the missing base fails the task, still unsent
    strict_tasks = {t["name"]: t for t in Loader(project.root).image_tasks() if t.get("name")}
    failed = strict_tasks[offline]["actions"][0]()
    assert isinstance(failed, TaskFailed) and "127.0.0.1:9/offline/base:1" in str(failed)
    assert builder.SENT[offline] == 0


@pytest.mark.parametrize("how", ["load", "label step"])
def test_the_label_costs_no_build_step_and_no_layer(
    tmp_path: Path, busybox_image: str, docker_client, monkeypatch, how: str
) -> None:
    """The fingerprint label is put on the image of the target stage without a LABEL step in
    the build (which on vfs copies the whole root filesystem) and without a layer; above the
    size limit (forced here) it is one `FROM image` + `LABEL` build, still no layer."""
    from dataplatform.images import builder, labelling
    from dataplatform.images import fingerprint as fp
    from dataplatform.images.spec import ImageSpec

    if how == "label step":
        monkeypatch.setattr(labelling, "LOAD_MAX_BYTES", -1)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.py").write_text(f"print('{unique_name()}')\n")
    (context / "Dockerfile").write_text(
        f"FROM {busybox_image} AS base\nCOPY . /app\nFROM {busybox_image} AS other\nRUN false\n"
    )
    spec = ImageSpec("labelled", context, context / "Dockerfile", "base", (), "test:1")
    fingerprint = fp.compute(spec, tmp_path, None)
    steps: list[str] = []
    image_id = builder.build_image(
        docker_client.api,
        spec,
        fingerprint,
        {"dataplatform.fingerprint": fingerprint.digest},
        steps.append,
    )
    reference = f"dataplatform-test-labelled/{unique_name()}:x"
    docker_client.api.tag(image_id, reference)
    try:
        assert [s.split(" : ")[1] for s in steps] == [
            f"FROM {busybox_image} AS base",
            "COPY . /app",
        ]
        image = docker_client.api.inspect_image(image_id)
        assert image["Config"]["Labels"]["dataplatform.fingerprint"] == fingerprint.digest
        built = docker_client.api.inspect_image(image["Parent"])  # what the build produced
        assert "dataplatform.fingerprint" not in (built["Config"]["Labels"] or {})
        assert image["RootFS"]["Layers"] == built["RootFS"]["Layers"]
        newest = docker_client.api.history(image_id)[0]
        assert "LABEL" in newest["CreatedBy"] and newest["Size"] == 0
    finally:
        docker_client.api.remove_image(reference)
    with pytest.raises(docker.errors.ImageNotFound):  # removed with it, as after a LABEL step
        docker_client.api.inspect_image(image["Parent"])


class EngineProxy:
    """A unix socket in front of the real engine's: it forwards every connection both ways
    and records the request line (`METHOD path`) of each HTTP request a client sends."""

    REQUEST = re.compile(rb"(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")

    def __init__(self, path: Path, target: str):
        self.path, self.target = path, target
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def __enter__(self) -> EngineProxy:
        self._server.bind(str(self.path))
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            engine_side = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine_side.connect(self.target)
            for ends in ((client, engine_side, True), (engine_side, client, False)):
                threading.Thread(target=self._pump, args=ends, daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        seen = b""
        try:
            while data := source.recv(65536):
                if record:
                    seen += data
                    with self._lock:
                        for method, path in self.REQUEST.findall(seen):
                            self.requests.append(f"{method.decode()} {path.decode()}")
                    seen = seen[seen.rfind(b"\r\n\r\n") + 4 :] if b"\r\n\r\n" in seen else seen
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def test_a_no_op_asks_the_engine_only_about_the_images_it_declares(
    project: TempProject, busybox_image: str, docker_client, tmp_path: Path
) -> None:
    """A no-op sends the engine one inspect per declared image (its fingerprint tag, whose
    tags also show this checkout's mark) and never lists the engine's images, a cost that grows
    with every image on the engine. The requests are counted at the HTTP level by a proxy in
    front of the real engine's socket; an image present but no longer marked is marked again
    (one tag), still without a listing."""
    from dataplatform.images import checkouts, engine

    socket_path = engine.resolve().socket_path
    require(socket_path is not None, "counting requests needs the engine on a local socket")
    assert socket_path is not None
    names = sorted(unique_name() for _ in range(2))
    image_project(project, busybox_image, names)
    built = project.doit()
    assert built.returncode == 0, built.stdout + built.stderr
    tags = {name: repository_tags(docker_client, name) for name in names}
    assert all(len(found) == 1 for found in tags.values()), tags

    with EngineProxy(tmp_path / "engine.sock", socket_path) as proxy:
        no_op = project.doit(DOCKER_HOST=proxy.host)
        assert no_op.returncode == 0 and executed(no_op) == [], no_op.stdout + no_op.stderr
        assert sorted(proxy.requests) == sorted(
            f"GET /images/{urllib.parse.quote(tags[name][0], safe='')}/json" for name in names
        )

        # present but not marked as this checkout's current image: marked again, no build
        mark = checkouts.mark_reference(names[0], checkouts.checkout_id(project.root))
        docker_client.api.remove_image(mark)
        proxy.requests.clear()
        marking = project.doit(DOCKER_HOST=proxy.host)
        assert marking.returncode == 0 and executed(marking) == [], marking.stdout
        assert not [r for r in proxy.requests if r.split("?")[0].endswith("/images/json")]
    image = docker_client.api.inspect_image(tags[names[0]][0])
    assert mark in image["RepoTags"]
