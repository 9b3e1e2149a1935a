"""The Dockerfile front end: text in, stages of typed, expanded instructions out.

``parse_dockerfile`` runs Docker's pipeline in Docker's order, so the first
error reported is the one Docker would report:

1. lexical pass (:mod:`.dockerfile_lines`): directives, comments,
   continuations, heredocs, per-instruction argument splitting;
2. instruction pass (:mod:`.dockerfile_instructions`): arguments and flags
   checked, payloads built with values as written; instructions before the
   first FROM may only be ARGs (the *global* or *meta* ARGs);
3. global scope: meta ARGs resolved (``--build-arg`` wins over the default,
   defaults expand earlier meta ARGs and the builtin args), every ``FROM``
   base and ``--platform`` expanded with that scope only; the base's ONBUILD
   triggers (``image_onbuild`` for an image, the ONBUILD lines of a base
   stage) become the stage's first instructions;
4. stage graph: ``--target`` picked (case-insensitive), ``FROM <stage>``,
   ``COPY --from=<name|index>`` and ``RUN --mount=from=`` resolved, cycles
   and forward references refused, the stages the target needs marked;
5. expansion, stage by stage, with the ARG/ENV state *before* each line: a
   stage starts from its base stage's final state, or from the base image's
   environment when the builder passes it in ``image_env``.  ARGs declared
   globally are visible in a stage only after ``ARG NAME`` is repeated there.

Stages after the target are dropped.  Stages the target does not need are
kept (``needed=False``, a builder skips them); an expansion error there is
only a warning, as Docker never evaluates them.

Everything is pure: no I/O beyond the text given.  A builder typically parses
once to learn the base images, pulls them, then parses again with
``image_env`` (and ``image_onbuild``) so that ``ENV PATH=/opt/bin:$PATH``
sees the image's PATH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from kybernetes.images.dockerfile_instructions import FromLine, parse_instruction
from kybernetes.images.dockerfile_lines import RawNode, scan_dockerfile
from kybernetes.images.dockerfile_model import (
    PROXY_BUILD_ARGS,
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    Dockerfile,
    DockerfileError,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Heredoc,
    InlineFile,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Payload,
    Run,
    Shell,
    Stage,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from kybernetes.images.dockerfile_values import go_atoi, is_valid_signal, parse_port
from kybernetes.images.dockerfile_words import ShellLex, WordError, go_quote, suggest

__all__ = [
    "Add",
    "Arg",
    "ArgDef",
    "Cmd",
    "Copy",
    "Dockerfile",
    "DockerfileError",
    "Entrypoint",
    "Env",
    "Expose",
    "Healthcheck",
    "Heredoc",
    "InlineFile",
    "Instruction",
    "Label",
    "Maintainer",
    "Onbuild",
    "Payload",
    "Run",
    "Shell",
    "Stage",
    "StopSignal",
    "User",
    "Volume",
    "Workdir",
    "parse_dockerfile",
    "platform_args",
]

_RESERVED_STAGE_NAMES = ("context", "scratch")


def platform_args(os: str = "linux", arch: str = "amd64", variant: str = "", *, build_os: str | None = None,
                  build_arch: str | None = None, build_variant: str | None = None) -> dict[str, str]:
    """The automatic platform ARGs Docker puts in the global scope (``TARGETARCH`` & co).

    Pass them as ``builtin_args``; ``parse_dockerfile`` then adds ``TARGETSTAGE``.
    """

    def spec(o: str, a: str, v: str) -> str:
        return f"{o}/{a}/{v}" if v else f"{o}/{a}"

    b_os = build_os if build_os is not None else os
    b_arch = build_arch if build_arch is not None else arch
    b_variant = build_variant if build_variant is not None else variant
    return {
        "TARGETPLATFORM": spec(os, arch, variant), "TARGETOS": os, "TARGETOSVERSION": "", "TARGETARCH": arch,
        "TARGETVARIANT": variant, "BUILDPLATFORM": spec(b_os, b_arch, b_variant), "BUILDOS": b_os,
        "BUILDOSVERSION": "", "BUILDARCH": b_arch, "BUILDVARIANT": b_variant,
    }


def parse_dockerfile(
    text: str,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    *,
    builtin_args: Mapping[str, str] | None = None,
    image_env: Mapping[str, Mapping[str, str]] | None = None,
    image_onbuild: Mapping[str, Sequence[str]] | None = None,
) -> Dockerfile:
    """Parse and expand a Dockerfile (see the module docstring).

    ``build_args`` are the ``--build-arg`` values; ``builtin_args`` the
    automatic global ARGs (see :func:`platform_args`).  ``image_env`` and
    ``image_onbuild`` map a stage's expanded base image reference to that
    image's environment (``{"PATH": ...}``) and ONBUILD triggers (the config's
    ``OnBuild`` list): triggers become the stage's first instructions, marked
    ``trigger=True``.  Raises :class:`DockerfileError` with Docker's wording.
    """
    if text == "":
        raise DockerfileError("the Dockerfile cannot be empty")
    args = dict(build_args or {})
    scan = scan_dockerfile(text)
    lex = ShellLex(scan.escape)
    warnings = list(scan.warnings)

    # pass 2: typed instructions, grouped into stages
    froms: list[tuple[FromLine, RawNode]] = []
    bodies: list[list[Instruction]] = []
    meta: list[Instruction] = []
    for node in scan.nodes:
        item = parse_instruction(node)
        if isinstance(item, FromLine):
            froms.append((item, node))
            bodies.append([])
        elif not froms and isinstance(item.payload, Arg):
            meta.append(item)
        elif not froms:
            raise DockerfileError("no build stage in current context", node.line, end_line=node.end_line)
        else:
            bodies[-1].append(item)
    if not froms:
        raise DockerfileError("dockerfile contains no stages to build")

    # pass 3: the global scope and the FROM lines
    global_env = {k: args.get(k, v) for k, v in (builtin_args or {}).items()}  # --build-arg may override
    if builtin_args is not None:
        global_env["TARGETSTAGE"] = args.get("TARGETSTAGE", target or froms[-1][0].name or "default")
    builtin_names = frozenset(global_env)
    global_args = [_resolve_meta_arg(ins, args, global_env, lex) for ins in meta]
    stages = _stages(froms, global_env, lex, warnings)

    for stage in stages:  # ONBUILD triggers of the base run first (a base stage's own ONBUILD lines, too)
        if stage.base_stage is None:
            triggers = list((image_onbuild or {}).get(stage.base, ()))
        else:
            triggers = [i.payload.expression for i in bodies[stage.base_stage] if isinstance(i.payload, Onbuild)]
        if triggers:
            bodies[stage.index][:0] = _triggers(stage, triggers)

    # pass 4: target and stage graph
    target_index = _target_index(stages, target)
    sources = _link(stages, bodies, lex)
    _check_cycles(stages, sources)
    needed = set(_closure(stages, target_index))
    for stage in stages:
        stage.needed = stage.index in needed
        if stage.needed:
            _check_forward_copies(stage, bodies[stage.index])

    # pass 5: expansion, in order, up to the target
    kept = stages[: target_index + 1]
    expander = _Expander(lex, args, global_env, image_env or {}, warnings)
    for stage in kept:
        stage.instructions = expander.stage(stage, kept, bodies[stage.index])
    return Dockerfile(stages=kept, global_args=global_args, warnings=warnings, escape=scan.escape,
                      build_args=args, meta_args=global_env, builtin_arg_names=builtin_names)


# --- global scope -------------------------------------------------------------------------------------------


def _expand_or_fail(lex: ShellLex, word: str, env: Mapping[str, str], where: Instruction | RawNode) -> str:
    try:
        return lex.process_word(word, env)
    except WordError as err:
        raise DockerfileError(str(err), where.line, end_line=where.end_line) from None


def _resolve_meta_arg(ins: Instruction, build_args: Mapping[str, str], scope: dict[str, str],
                      lex: ShellLex) -> Instruction:
    assert isinstance(ins.payload, Arg)
    defs = []
    for arg in ins.payload.args:
        supplied = arg.name in build_args
        value: str | None = None
        if supplied:
            value = build_args[arg.name]
        elif arg.default is not None:
            value = _expand_or_fail(lex, arg.default, scope, ins)
        if value is not None:
            scope[arg.name] = value
        defs.append(replace(arg, value=scope.get(arg.name), supplied=supplied))
    return replace(ins, payload=Arg(tuple(defs)))


def _stages(froms: list[tuple[FromLine, RawNode]], scope: Mapping[str, str], lex: ShellLex,
            warnings: list[str]) -> list[Stage]:
    stages: list[Stage] = []
    by_name: dict[str, int] = {}
    for index, (line, marker) in enumerate(froms):
        base = _expand_or_fail(lex, line.base, scope, marker)
        if base == "":
            raise DockerfileError(f"base name ({line.base}) should not be blank", marker.line)
        platform = None
        if line.platform is not None:
            try:
                platform = lex.process_word(line.platform, scope)
            except WordError as err:
                raise DockerfileError(f"failed to process arguments for platform : {err}", marker.line) from None
            if platform == "":
                raise DockerfileError(f"empty platform value from expression {line.platform}", marker.line)
        where = f"(line {marker.line})"
        name = line.name
        if name is not None:
            written = marker.original.split()[-1]
            if written != name:
                warnings.append(f"StageNameCasing: Stage name '{written}' should be lowercase {where}")
            if name in by_name:
                warnings.append(f"DuplicateStageName: Duplicate stage name {go_quote(name)}, "
                                f"stage names should be unique {where}")
            if name in _RESERVED_STAGE_NAMES:
                warnings.append(f"ReservedStageName: Stage name should not use the same name as reserved stage "
                                f"{go_quote(name)} {where}")
        stages.append(Stage(index=index, name=name, base=base, platform=platform, line=marker.line,
                            end_line=marker.end_line, original=marker.original, base_stage=by_name.get(base)))
        if name is not None:
            by_name[name] = index
    return stages


def _triggers(stage: Stage, triggers: Sequence[str]) -> list[Instruction]:
    """ONBUILD trigger texts as instructions at the FROM line (parsed with the default escape, like Docker)."""
    out = []
    for text in triggers:
        try:
            nodes = scan_dockerfile(text).nodes
            if len(nodes) != 1:
                raise DockerfileError("onbuild trigger should be a single expression")
            item = parse_instruction(nodes[0])
        except DockerfileError as err:
            raise DockerfileError(err.message, stage.line, end_line=stage.end_line) from None
        if isinstance(item, FromLine):
            raise DockerfileError("FROM isn't allowed as an ONBUILD trigger", stage.line, end_line=stage.end_line)
        out.append(replace(item, line=stage.line, end_line=stage.end_line, trigger=True))
    return out


# --- the stage graph -----------------------------------------------------------------------------------------


def _find_stage(stages: list[Stage], name: str) -> int | None:
    found = None
    for stage in stages:
        if stage.name is not None and stage.name == name.lower():
            found = stage.index
    return found


def _target_index(stages: list[Stage], target: str | None) -> int:
    if not target:
        return len(stages) - 1
    found = _find_stage(stages, target)
    if found is None:
        message = f"target stage {go_quote(target)} could not be found"
        hint = suggest(target, [s.display_name for s in stages], case_sensitive=True)
        raise DockerfileError(f"{message} (did you mean {hint}?)" if hint else message)
    return found


def _mount_from(spec: str) -> str | None:
    for field_text in spec.split(","):
        key, _, value = field_text.strip().partition("=")
        if key.strip().lower() == "from" and value:
            return value.strip().strip('"')
    return None


def _link(stages: list[Stage], bodies: list[list[Instruction]], lex: ShellLex) -> list[list[int]]:
    """Resolve COPY --from / RUN --mount=from= to stage indexes and fill ``depends_on``.

    Returns, per stage, the stages it takes files from (its base stage aside).
    """
    sources: list[list[int]] = []
    for stage in stages:
        deps: list[int] = []
        body = bodies[stage.index]
        for pos, ins in enumerate(body):
            payload = ins.payload
            if isinstance(payload, Copy) and payload.from_stage is not None:
                ref = payload.from_stage
                try:
                    unchanged = lex.process_word(ref, {}) == ref
                except WordError as err:
                    raise DockerfileError(str(err), ins.line) from None
                if not unchanged:
                    raise DockerfileError("variable expansion is not supported for --from, define a new stage "
                                          "with FROM using ARG from global scope as a workaround", ins.line)
                number = go_atoi(ref)
                if number is not None:
                    if not 0 <= number < len(stages):
                        raise DockerfileError(f"invalid stage index {number}", ins.line)
                    index: int | None = number
                else:
                    index = _find_stage(stages, ref)
                if index is not None:
                    deps.append(index)
                    body[pos] = replace(ins, payload=replace(payload, from_index=index))
            elif isinstance(payload, Run):
                for mount in payload.mounts:
                    ref_name = _mount_from(mount)
                    found = _find_stage(stages, ref_name) if ref_name else None
                    if found is not None:
                        deps.append(found)
        stage.depends_on = tuple(dict.fromkeys(([stage.base_stage] if stage.base_stage is not None else [])
                                               + deps))
        sources.append(list(dict.fromkeys(deps)))
    return sources


def _check_cycles(stages: list[Stage], sources: list[list[int]]) -> None:
    """Docker's check: a stage that takes files from itself, directly or through others, is refused."""
    visited: set[int] = set()

    def visit(index: int, path: set[int]) -> bool:
        if index in visited:
            return False
        visited.add(index)
        path.add(index)
        for dep in sources[index]:
            if dep in path or visit(dep, path):
                return True
        path.discard(index)
        return False

    for stage in stages:
        if visit(stage.index, set()):
            raise DockerfileError(f"circular dependency detected on stage: {stage.display_name}", stage.line)


def _closure(stages: list[Stage], target: int) -> list[int]:
    seen: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index not in seen:
            seen.add(index)
            todo.extend(stages[index].depends_on)
    return sorted(seen)


def _check_forward_copies(stage: Stage, body: list[Instruction]) -> None:
    for ins in body:
        payload = ins.payload
        if isinstance(payload, Copy) and payload.from_index is not None and payload.from_index > stage.index:
            raise DockerfileError(f"cannot copy from stage {go_quote(payload.from_stage or '')}, it needs to be "
                                  f"defined before current stage {go_quote(stage.display_name)}", ins.line)


# --- expansion -------------------------------------------------------------------------------------------------


class _Expander:
    """Expands one stage's instructions against the ARG/ENV state at each line."""

    def __init__(self, lex: ShellLex, build_args: Mapping[str, str], global_env: Mapping[str, str],
                 image_env: Mapping[str, Mapping[str, str]], warnings: list[str]) -> None:
        self.lex = lex
        self.raw_lex = ShellLex("\\", skip_process_quotes=True)  # heredoc bodies: no quote processing
        self.build_args = build_args
        self.global_env = global_env
        self.image_env = image_env
        self.warnings = warnings
        self.proxy_env = {k: v for k, v in build_args.items() if k in PROXY_BUILD_ARGS}
        self.strict = True
        self.env: dict[str, str] = {}
        self.ins: Instruction | None = None

    def stage(self, stage: Stage, stages: list[Stage], body: list[Instruction]) -> list[Instruction]:
        if stage.base_stage is not None:
            self.env = dict(stages[stage.base_stage].env)
        else:
            self.env = dict(self.image_env.get(stage.base, {}))
        self.strict = stage.needed
        out = []
        for ins in body:
            self.ins = ins
            out.append(replace(ins, payload=self.payload(ins.payload)))
            if stage.needed:
                self.lint(ins)
        stage.env = self.env
        return out

    def lint(self, ins: Instruction) -> None:
        where = f"(line {ins.line})"
        if isinstance(ins.payload, Maintainer):
            self.warnings.append(f"MaintainerDeprecated: Maintainer instruction is deprecated in favor of using "
                                 f"label {where}")
        elif isinstance(ins.payload, Env | Label) and ins.payload.legacy:
            self.warnings.append(f'LegacyKeyValueFormat: "{ins.keyword} key=value" should be used instead of '
                                 f'legacy "{ins.keyword} key value" format {where}')

    def fail(self, message: str) -> str:
        assert self.ins is not None
        if self.strict:
            raise DockerfileError(message, self.ins.line, end_line=self.ins.end_line)
        self.warnings.append(f"line {self.ins.line}: {message} (stage not needed for the target; ignored)")
        return ""

    def word(self, text: str, lex: ShellLex | None = None) -> str:
        try:
            return (lex or self.lex).process_word(text, self.env)
        except WordError as err:
            self.fail(str(err))
            return text

    def words(self, text: str) -> list[str]:
        try:
            return self.lex.process_words(text, self.env)
        except WordError as err:
            self.fail(str(err))
            return [text]

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.word(text)

    def payload(self, p: Payload) -> Payload:
        if isinstance(p, Env):
            pairs = tuple((self.word(k), self.word(v)) for k, v in p.pairs)
            self.env.update(pairs)
            return replace(p, pairs=pairs)
        if isinstance(p, Label):
            return replace(p, pairs=tuple((self.word(k), self.word(v)) for k, v in p.pairs))
        if isinstance(p, Arg):
            return Arg(tuple(self.arg(a) for a in p.args))
        if isinstance(p, Copy):
            return replace(p, sources=tuple(self.word(s) for s in p.sources), dest=self.word(p.dest),
                           chown=self.optional(p.chown), chmod=self.optional(p.chmod),
                           inline_files=self.inline(p.inline_files))
        if isinstance(p, Add):
            return replace(p, sources=tuple(self.word(s) for s in p.sources), dest=self.word(p.dest),
                           chown=self.optional(p.chown), chmod=self.optional(p.chmod),
                           checksum=self.optional(p.checksum), inline_files=self.inline(p.inline_files))
        if isinstance(p, Workdir):
            return Workdir(self.word(p.path))
        if isinstance(p, User):
            return User(self.word(p.user))
        if isinstance(p, StopSignal):
            signal = self.word(p.signal)
            if not is_valid_signal(signal):
                self.fail(f"Invalid signal: {signal}")
            return StopSignal(signal)
        if isinstance(p, Volume):
            paths = tuple(self.word(v) for v in p.paths)
            if any(v == "" for v in paths):
                self.fail("VOLUME specified can not be an empty string")
            return Volume(paths)
        if isinstance(p, Expose):
            return Expose(self.ports([w for spec in p.ports for w in self.words(spec)]))
        if isinstance(p, Run):
            return replace(p, env={**self.proxy_env, **self.env})
        return p  # CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: never expanded

    def arg(self, arg: ArgDef) -> ArgDef:
        supplied = arg.name in self.build_args
        value: str | None = None
        if supplied:
            value = self.build_args[arg.name]
        elif arg.default is not None:
            value = self.word(arg.default)
        elif arg.name in self.global_env:
            value = self.global_env[arg.name]
        if value is not None:
            self.env[arg.name] = value
        return replace(arg, value=value, supplied=supplied)

    def inline(self, files: tuple[InlineFile, ...]) -> tuple[InlineFile, ...]:
        return tuple(replace(f, content=self.word(f.content, self.raw_lex)) if f.expand else f for f in files)

    def ports(self, specs: list[str]) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for spec in specs:
            try:
                out.update(dict.fromkeys(parse_port(spec)))
            except WordError as err:
                self.fail(str(err))
        return tuple(out)
