"""The parsed Dockerfile: stages, instructions and one typed payload per instruction kind.

What the parser hands the builder.  Everything is plain data: payloads are
frozen dataclasses with tuples, so a builder can pattern-match on them
(``match ins.payload: case Run(): ...``) and share them freely.

Values in payloads are final: variables are already expanded where Docker's
builder expands them (``ENV``, ``LABEL``, ``ARG`` defaults, ``COPY``/``ADD``,
``WORKDIR``, ``USER``, ``VOLUME``, ``EXPOSE``, ``STOPSIGNAL``, ``FROM``), and left
as written where the shell does it at run time (``RUN``, ``CMD``,
``ENTRYPOINT``, ``SHELL``, ``HEALTHCHECK``, ``ONBUILD``).  Durations are
nanoseconds, as Docker stores them in an image config.

Invariant: ``Dockerfile.stages[i].index == i`` and the last stage is the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DockerfileError(ValueError):
    """A Dockerfile that Docker would refuse, with Docker's wording.

    ``line`` is the 1-based first line of the offending instruction (None when
    the error is about the file as a whole, e.g. an unknown ``--target``).
    Errors found while reading an instruction's syntax render like Docker's
    ``dockerfile parse error on line 3: ...``; the others (lexical errors,
    expansion errors, stage errors) are the bare message, as Docker prints them
    next to a source excerpt.
    """

    def __init__(self, message: str, line: int | None = None, *, end_line: int | None = None,
                 parse_error: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.end_line = end_line if end_line is not None else line
        self.parse_error = parse_error

    def __str__(self) -> str:
        if self.parse_error and self.line is not None:
            return f"dockerfile parse error on line {self.line}: {self.message}"
        return self.message


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to RUN/COPY/ADD: ``<<[-]NAME`` and the lines up to ``NAME``."""

    name: str
    content: str  # as written, each line with its newline (chomp not applied: see chomp_heredoc)
    chomp: bool = False  # "<<-": leading tabs are stripped
    expand: bool = True  # the name was unquoted: COPY/ADD expand variables in the content
    fd: int = 0  # "3<<EOF" -> 3


@dataclass(frozen=True)
class InlineFile:
    """A file whose content is in the Dockerfile (heredoc source of COPY/ADD, or a RUN script)."""

    name: str
    content: str
    expand: bool = False  # COPY/ADD heredoc with an unquoted name: content had variables expanded


# --- payloads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """``RUN``.  ``command`` is what follows the shell: exec form argv, or ``(script,)`` in shell form.

    Shell form (``shell_form``) means: prepend the stage's SHELL (default
    ``/bin/sh -c``).  Heredocs are already folded into ``command`` the way
    Docker does; a heredoc script starting with ``#!`` becomes ``pipe_files``,
    to be mounted read-only under ``/dev/pipes/`` (mode 0755) and run by path.
    ``env`` is the build environment in effect at this line (base image env
    when given to the parser, ENV, ARG values, proxy build-args), for the
    process.  ``mounts``/``network``/``security``/``devices`` are the BuildKit
    flags as written; a builder that cannot honour them must say so.
    """

    command: tuple[str, ...]
    shell_form: bool
    heredocs: tuple[Heredoc, ...] = ()
    pipe_files: tuple[InlineFile, ...] = ()
    mounts: tuple[str, ...] = ()
    network: str | None = None
    security: str | None = None
    devices: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def uses_buildkit_flags(self) -> bool:
        return bool(self.mounts or self.network not in (None, "default") or self.security not in (None, "sandbox")
                    or self.devices)


@dataclass(frozen=True)
class Cmd:
    """``CMD``: exec form argv, or ``(text,)`` with ``shell_form`` (prepend the SHELL)."""

    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True)
class Entrypoint:
    """``ENTRYPOINT``; ``ENTRYPOINT []`` is ``command == ()`` in exec form (clears it)."""

    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True)
class Shell:
    """``SHELL ["executable", "params"...]`` (exec form only)."""

    command: tuple[str, ...]


@dataclass(frozen=True)
class Healthcheck:
    """``HEALTHCHECK``: ``test`` as stored in an image config.

    ``("NONE",)`` disables a check; ``("CMD", argv...)`` or ``("CMD-SHELL", text)``.
    Durations are nanoseconds, 0 meaning "inherit the default".
    """

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Env:
    """``ENV``: ordered ``(key, value)`` pairs; ``legacy`` for the ``ENV key value`` form."""

    pairs: tuple[tuple[str, str], ...]
    legacy: bool = False


@dataclass(frozen=True)
class Label:
    """``LABEL``: ordered ``(key, value)`` pairs."""

    pairs: tuple[tuple[str, str], ...]
    legacy: bool = False


@dataclass(frozen=True)
class ArgDef:
    """One name of an ``ARG`` instruction.

    ``default`` is the text after ``=`` as written (None without ``=``);
    ``value`` is what the build uses: the ``--build-arg`` when ``supplied``,
    else the expanded default, else (inside a stage) the global ARG's value,
    else None (declared but unset).
    """

    name: str
    default: str | None
    value: str | None
    supplied: bool


@dataclass(frozen=True)
class Arg:
    """``ARG name[=default] ...``."""

    args: tuple[ArgDef, ...]


@dataclass(frozen=True)
class Expose:
    """``EXPOSE``: ports normalised like Docker's config keys (``"80/tcp"``, ``"53/udp"``), ranges expanded."""

    ports: tuple[str, ...]


@dataclass(frozen=True)
class Workdir:
    """``WORKDIR``; relative paths are relative to the previous working directory (builder resolves)."""

    path: str


@dataclass(frozen=True)
class User:
    user: str


@dataclass(frozen=True)
class Volume:
    paths: tuple[str, ...]


@dataclass(frozen=True)
class StopSignal:
    signal: str


@dataclass(frozen=True)
class Onbuild:
    """``ONBUILD``: the trigger text stored in the image config, and its instruction keyword."""

    expression: str
    trigger: str


@dataclass(frozen=True)
class Maintainer:
    """``MAINTAINER`` (deprecated).  Docker records it as the image's ``author``; a builder may
    also set ``LABEL maintainer=...``, the documented replacement."""

    name: str


@dataclass(frozen=True)
class Copy:
    """``COPY``: context (or stage/image) ``sources`` and heredoc ``inline_files`` into ``dest``.

    ``from_stage`` is the ``--from`` value as written; ``from_index`` is the
    stage it names (by name or number), or None when it names an image.
    """

    sources: tuple[str, ...]
    dest: str
    inline_files: tuple[InlineFile, ...] = ()
    from_stage: str | None = None
    from_index: int | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()
    json_form: bool = False


@dataclass(frozen=True)
class Add:
    """``ADD``: like COPY from the context, plus URLs, git and local tar extraction."""

    sources: tuple[str, ...]
    dest: str
    inline_files: tuple[InlineFile, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    checksum: str | None = None
    keep_git_dir: bool | None = None
    unpack: bool | None = None
    excludes: tuple[str, ...] = ()
    json_form: bool = False


Payload = (
    Run | Cmd | Entrypoint | Shell | Healthcheck | Env | Label | Arg | Expose | Workdir | User | Volume
    | StopSignal | Onbuild | Maintainer | Copy | Add
)


@dataclass(frozen=True)
class Instruction:
    """One instruction of a stage (FROM is the :class:`Stage` itself).

    ``original`` is the instruction as written with continuation lines joined
    (escape tokens and comment lines removed), without heredoc bodies.
    ``trigger`` marks an ONBUILD trigger of the base image, run first in the
    stage (its line numbers are the FROM line's).
    """

    line: int
    end_line: int
    keyword: str
    original: str
    payload: Payload
    trigger: bool = False


@dataclass
class Stage:
    """A build stage: ``FROM base [AS name]`` and its instructions.

    ``base`` is expanded with the global ARGs; ``base_stage`` is the index of
    an earlier stage when ``base`` names one (else ``base`` is an image, or
    ``scratch``).  ``depends_on`` lists the stages this one needs (its base
    stage, ``COPY --from``, ``RUN --mount=from=``), ``needed`` says whether the
    target needs this stage at all (a builder skips the others).  ``env`` is
    the build environment at the end of the stage, which a stage built
    ``FROM`` this one starts with.
    """

    index: int
    name: str | None
    base: str
    platform: str | None
    line: int
    end_line: int
    original: str
    instructions: list[Instruction] = field(default_factory=list)
    base_stage: int | None = None
    depends_on: tuple[int, ...] = ()
    needed: bool = True
    env: dict[str, str] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """The name Docker shows in progress output: the stage name, or ``stage-N``."""
        return self.name if self.name is not None else f"stage-{self.index}"

    @property
    def is_scratch(self) -> bool:
        return self.base_stage is None and self.base.lower() == "scratch"


# Build args Docker accepts without an ARG: proxies are passed to RUN, never reported as unused.
PROXY_BUILD_ARGS = frozenset(
    {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY",
     "no_proxy", "ALL_PROXY", "all_proxy"}
)


@dataclass
class Dockerfile:
    """A parsed Dockerfile, cut at the target stage (the last of ``stages``)."""

    stages: list[Stage]
    global_args: list[Instruction]
    warnings: list[str] = field(default_factory=list)
    escape: str = "\\"
    build_args: dict[str, str] = field(default_factory=dict)
    meta_args: dict[str, str] = field(default_factory=dict)  # global scope after --build-arg: FROM sees these
    builtin_arg_names: frozenset[str] = frozenset()  # automatic ARGs (TARGETARCH...): never "not consumed"

    @property
    def target(self) -> Stage:
        return self.stages[-1]

    def stage(self, ref: str | int) -> Stage | None:
        """A stage by index, or by name (case-insensitive; the last of duplicates wins, as in Docker)."""
        if isinstance(ref, int):
            return self.stages[ref] if 0 <= ref < len(self.stages) else None
        found = None
        for stage in self.stages:
            if stage.name is not None and stage.name == ref.lower():
                found = stage
        return found

    def required_stages(self, target: int | None = None) -> list[int]:
        """Indexes of the stages needed to build ``target`` (default: the target), itself included, in order."""
        start = len(self.stages) - 1 if target is None else target
        seen: set[int] = set()
        todo = [start]
        while todo:
            index = todo.pop()
            if index in seen:
                continue
            seen.add(index)
            todo.extend(self.stages[index].depends_on)
        return sorted(seen)

    def unused_build_args(self) -> list[str]:
        """``--build-arg`` names no ARG declared (globally or in a needed stage), sorted."""
        declared: set[str] = set()
        for ins in self.global_args:
            if isinstance(ins.payload, Arg):
                declared.update(a.name for a in ins.payload.args)
        for stage in self.stages:
            if not stage.needed:
                continue
            for ins in stage.instructions:
                if isinstance(ins.payload, Arg):
                    declared.update(a.name for a in ins.payload.args)
        builtin = PROXY_BUILD_ARGS | self.builtin_arg_names
        return sorted(k for k in self.build_args if k not in declared and k not in builtin)

    def unused_build_args_warning(self) -> str | None:
        """Docker's warning text for :meth:`unused_build_args`, or None."""
        unused = self.unused_build_args()
        if not unused:
            return None
        return f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed"
