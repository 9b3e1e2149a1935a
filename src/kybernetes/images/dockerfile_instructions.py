"""Second pass of the Dockerfile parser: raw nodes to typed instructions, before expansion.

Each instruction kind has one small function that checks arguments and flags
the way Docker does, in Docker's order (so the first error reported is
Docker's first error), and builds the payload dataclass with values *as
written*.  Variable expansion happens later, per stage, in
:mod:`kybernetes.images.dockerfile`, because it needs the ARG/ENV state at that
line.  FROM is returned as a :class:`FromLine` since it opens a stage rather
than belonging to one.

Errors raised here are :class:`DockerfileError` with ``parse_error=True``:
they render as ``dockerfile parse error on line N: ...`` like Docker's.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kybernetes.images.dockerfile_lines import RawNode, chomp_heredoc, parse_heredoc_word
from kybernetes.images.dockerfile_model import (
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    DockerfileError,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    InlineFile,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Payload,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from kybernetes.images.dockerfile_values import parse_go_duration
from kybernetes.images.dockerfile_words import WordError, go_quote, go_trim_space, suggest

__all__ = ["INSTRUCTIONS", "FromLine", "parse_instruction"]

INSTRUCTIONS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)
_INT = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class FromLine:
    """``FROM [--platform=p] base [AS name]`` as written (the name already lowercased)."""

    base: str
    name: str | None
    platform: str | None


# --- flags ----------------------------------------------------------------------------------------------

_BOOL, _STRING, _STRINGS = "bool", "string", "strings"
FlagValue = str | bool | list[str]


def _parse_flags(words: list[str], defs: dict[str, str]) -> dict[str, FlagValue]:
    """Docker's builder flags: ``--name=value`` / ``--bool``; only the flags used are returned."""
    used: dict[str, FlagValue] = {}
    for word in words:
        if word == "--":
            break
        if not word.startswith("--"):
            raise WordError(f"arg should start with -- : {word}")
        flag_name, has_value, value = word.partition("=")
        name = flag_name[2:]
        kind = defs.get(name)
        if kind is None:
            message = f"unknown flag: {flag_name}"
            hint = suggest(name, defs, case_sensitive=True)
            raise WordError(f"{message} (did you mean {hint}?)" if hint else message)
        if name in used and kind != _STRINGS:
            raise WordError(f"duplicate flag specified: {flag_name}")
        if kind == _BOOL:
            if has_value and value == "":
                raise WordError(f"missing a value on flag: {flag_name}")
            if value.lower() in ("true", ""):
                used[name] = True
            elif value.lower() == "false":
                used[name] = False
            else:
                raise WordError(f"expecting boolean value for flag {flag_name}, not: {value}")
        elif not has_value:
            raise WordError(f"missing a value on flag: {flag_name}")
        elif kind == _STRING:
            used[name] = value
        else:
            previous = used.get(name)
            used[name] = [*(previous if isinstance(previous, list) else []), value]
    return used


def _string(flags: dict[str, FlagValue], name: str) -> str | None:
    value = flags.get(name)
    return value if isinstance(value, str) else None


def _strings(flags: dict[str, FlagValue], name: str) -> tuple[str, ...]:
    value = flags.get(name)
    return tuple(value) if isinstance(value, list) else ()


def _bool(flags: dict[str, FlagValue], name: str) -> bool | None:
    value = flags.get(name)
    return value if isinstance(value, bool) else None


# --- helpers ---------------------------------------------------------------------------------------------


def _at_least_one(keyword: str) -> WordError:
    return WordError(f"{keyword} requires at least one argument")


def _exactly_one(keyword: str) -> WordError:
    return WordError(f"{keyword} requires exactly one argument")


def _command_line(node: RawNode) -> tuple[str, ...]:
    """Exec form: the array; shell form: the text as one element."""
    if not node.args:
        return ()
    if node.json_form:
        return tuple(node.args)
    return (" ".join(node.args),)


# --- one function per instruction -------------------------------------------------------------------------


def _from(node: RawNode) -> FromLine:
    args = node.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise WordError(f"invalid name for build stage: {go_quote(args[2])}, "
                            "name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise WordError("FROM requires either one or three arguments")
    flags = _parse_flags(node.flags, {"platform": _STRING})
    return FromLine(base=args[0], name=name, platform=_string(flags, "platform") or None)


def _run(node: RawNode) -> Run:
    flags = _parse_flags(node.flags, {"mount": _STRINGS, "network": _STRING, "security": _STRING,
                                      "device": _STRINGS})
    network = _string(flags, "network")
    if network is not None and network not in ("default", "none", "host"):
        raise WordError(f"invalid network mode {go_quote(network)}")
    security = _string(flags, "security")
    if security is not None and security not in ("sandbox", "insecure"):
        raise WordError(f"security {go_quote(security)} is not valid")
    command = _command_line(node)
    pipe_files: tuple[InlineFile, ...] = ()
    if node.heredocs:
        command, pipe_files = _run_heredocs(node, command)
    return Run(command=command, shell_form=not node.json_form, heredocs=tuple(node.heredocs),
               pipe_files=pipe_files, mounts=_strings(flags, "mount"), network=network, security=security,
               devices=_strings(flags, "device"))


def _run_heredocs(node: RawNode, command: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[InlineFile, ...]]:
    """Fold heredocs into the command the way Docker runs them."""
    if len(command) != 1 or node.json_form:
        raise WordError(f"parsing produced an invalid run command: {list(command)}")
    first = node.heredocs[0]
    if parse_heredoc_word(command[0]) is not None:
        data = chomp_heredoc(first.content) if first.chomp else first.content
        if data.startswith("#!"):
            # a script with an interpreter line: Docker mounts it as a file and runs it by path
            return (f"/dev/pipes/{first.name}",), (InlineFile(first.name, data),)
        return (data,), ()
    # anything else goes to the shell as written, with the bodies re-attached
    text = command[0] + "".join("\n" + doc.content + doc.name for doc in node.heredocs)
    return (text,), ()


def _cmd(node: RawNode) -> Cmd:
    _parse_flags(node.flags, {})
    return Cmd(command=_command_line(node), shell_form=not node.json_form)


def _entrypoint(node: RawNode) -> Entrypoint:
    _parse_flags(node.flags, {})
    return Entrypoint(command=_command_line(node), shell_form=not node.json_form)


def _shell(node: RawNode) -> Shell:
    _parse_flags(node.flags, {})
    command = _command_line(node)
    if not command:
        raise _at_least_one("SHELL")
    if not node.json_form:
        raise WordError("SHELL requires the arguments to be in JSON form")
    return Shell(command=command)


def _duration(flags: dict[str, FlagValue], name: str) -> int:
    text = _string(flags, name)
    if not text:
        return 0
    nanos = parse_go_duration(text)
    if nanos == 0:
        return 0
    if nanos < 1_000_000:
        raise WordError(f"Interval {go_quote(name)} cannot be less than 1ms")
    return nanos


def _healthcheck(node: RawNode) -> Healthcheck:
    if not node.args:
        raise _at_least_one("HEALTHCHECK")
    kind = node.args[0].upper()
    rest = node.args[1:]
    if kind == "NONE":
        if rest:
            raise WordError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=("NONE",))
    flags = _parse_flags(node.flags, {"interval": _STRING, "timeout": _STRING, "start-period": _STRING,
                                      "start-interval": _STRING, "retries": _STRING})
    if kind != "CMD":
        raise WordError(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    command = tuple(rest) if node.json_form else ((" ".join(rest),) if rest else ())
    if not command:
        raise WordError("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *command) if node.json_form else ("CMD-SHELL", *command)
    interval = _duration(flags, "interval")
    timeout = _duration(flags, "timeout")
    start_period = _duration(flags, "start-period")
    start_interval = _duration(flags, "start-interval")
    retries = 0
    text = _string(flags, "retries")
    if text:
        if not _INT.match(text):
            raise WordError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
        retries = int(text)
        if not -(1 << 31) <= retries < 1 << 31:
            raise WordError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
        if retries < 0:
            raise WordError(f"--retries cannot be negative ({retries})")
    return Healthcheck(test=test, interval=interval, timeout=timeout, start_period=start_period,
                       start_interval=start_interval, retries=retries)


def _key_values(node: RawNode, keyword: str) -> tuple[tuple[str, str], ...]:
    _parse_flags(node.flags, {})
    if not node.pairs:
        raise _at_least_one(keyword)
    for key, _ in node.pairs:
        if key == "":
            raise WordError(f"{keyword} names can not be blank")
    return tuple(node.pairs)


def _env(node: RawNode) -> Env:
    return Env(pairs=_key_values(node, "ENV"), legacy=node.legacy)


def _label(node: RawNode) -> Label:
    return Label(pairs=_key_values(node, "LABEL"), legacy=node.legacy)


def _arg(node: RawNode) -> Arg:
    if not node.args:
        raise _at_least_one("ARG")
    defs = []
    for word in node.args:
        if "=" in word:
            name, _, default = word.partition("=")
            if name == "":
                raise WordError("ARG names can not be blank")
            defs.append(ArgDef(name=name, default=default, value=None, supplied=False))
        else:
            defs.append(ArgDef(name=word, default=None, value=None, supplied=False))
    return Arg(args=tuple(defs))


def _expose(node: RawNode) -> Expose:
    if not node.args:
        raise _at_least_one("EXPOSE")
    _parse_flags(node.flags, {})
    return Expose(ports=tuple(sorted(node.args)))


def _workdir(node: RawNode) -> Workdir:
    if len(node.args) != 1:
        raise _exactly_one("WORKDIR")
    _parse_flags(node.flags, {})
    return Workdir(path=node.args[0])


def _user(node: RawNode) -> User:
    if len(node.args) != 1:
        raise _exactly_one("USER")
    _parse_flags(node.flags, {})
    return User(user=node.args[0])


def _volume(node: RawNode) -> Volume:
    if not node.args:
        raise _at_least_one("VOLUME")
    _parse_flags(node.flags, {})
    paths = []
    for path in node.args:
        path = go_trim_space(path)
        if path == "":
            raise WordError("VOLUME specified can not be an empty string")
        paths.append(path)
    return Volume(paths=tuple(paths))


def _stopsignal(node: RawNode) -> StopSignal:
    if len(node.args) != 1:
        raise _exactly_one("STOPSIGNAL")
    return StopSignal(signal=node.args[0])  # Docker reads no flags here


def _maintainer(node: RawNode) -> Maintainer:
    if len(node.args) != 1:
        raise _exactly_one("MAINTAINER")
    _parse_flags(node.flags, {})
    return Maintainer(name=node.args[0])


def _onbuild(node: RawNode) -> Onbuild:
    if not node.args:
        raise _at_least_one("ONBUILD")
    _parse_flags(node.flags, {})
    trigger = node.args[0].strip().upper()
    if trigger == "ONBUILD":
        raise WordError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise WordError(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    expression += "".join("\n" + doc.content + doc.name for doc in node.heredocs)
    return Onbuild(expression=expression, trigger=trigger)


def _sources_and_dest(node: RawNode, keyword: str) -> tuple[tuple[str, ...], str, tuple[InlineFile, ...]]:
    sources, dest = node.args[:-1], node.args[-1]
    if parse_heredoc_word(dest) is not None:
        raise WordError(f"{keyword} cannot accept a heredoc as a destination")
    by_name = {doc.name: doc for doc in node.heredocs}
    paths: list[str] = []
    inline: list[InlineFile] = []
    for source in sources:
        word = parse_heredoc_word(source)
        if word is None:
            paths.append(source)
            continue
        doc = by_name.get(word.name)
        content = doc.content if doc is not None else ""
        if word.chomp:
            content = chomp_heredoc(content)
        inline.append(InlineFile(name=word.name, content=content, expand=word.expand))
    return tuple(paths), dest, tuple(inline)


def _too_few(keyword: str) -> WordError:
    return WordError(f"{keyword} requires at least two arguments, but only one was provided. "
                     "Destination could not be determined")


def _copy(node: RawNode) -> Copy:
    if len(node.args) < 2:
        raise _too_few("COPY")
    flags = _parse_flags(node.flags, {"chown": _STRING, "from": _STRING, "chmod": _STRING, "link": _BOOL,
                                      "exclude": _STRINGS, "parents": _BOOL})
    sources, dest, inline = _sources_and_dest(node, "COPY")
    return Copy(sources=sources, dest=dest, inline_files=inline, from_stage=_string(flags, "from") or None,
                chown=_string(flags, "chown") or None, chmod=_string(flags, "chmod") or None,
                link=bool(_bool(flags, "link")), parents=bool(_bool(flags, "parents")),
                excludes=_strings(flags, "exclude"), json_form=node.json_form)


def _add(node: RawNode) -> Add:
    if len(node.args) < 2:
        raise _too_few("ADD")
    flags = _parse_flags(node.flags, {"chown": _STRING, "chmod": _STRING, "link": _BOOL, "keep-git-dir": _BOOL,
                                      "checksum": _STRING, "unpack": _BOOL, "exclude": _STRINGS})
    sources, dest, inline = _sources_and_dest(node, "ADD")
    return Add(sources=sources, dest=dest, inline_files=inline, chown=_string(flags, "chown") or None,
               chmod=_string(flags, "chmod") or None, link=bool(_bool(flags, "link")),
               checksum=_string(flags, "checksum") or None, keep_git_dir=_bool(flags, "keep-git-dir"),
               unpack=_bool(flags, "unpack"), excludes=_strings(flags, "exclude"), json_form=node.json_form)


_PARSERS: dict[str, Callable[[RawNode], Payload]] = {
    "add": _add, "arg": _arg, "cmd": _cmd, "copy": _copy, "entrypoint": _entrypoint, "env": _env,
    "expose": _expose, "healthcheck": _healthcheck, "label": _label, "maintainer": _maintainer,
    "onbuild": _onbuild, "run": _run, "shell": _shell, "stopsignal": _stopsignal, "user": _user,
    "volume": _volume, "workdir": _workdir,
}


def parse_instruction(node: RawNode) -> Instruction | FromLine:
    """The typed instruction of one raw node (values as written), or the FROM line."""
    kind = node.keyword.lower()
    try:
        if kind == "from":
            return _from(node)
        parser = _PARSERS.get(kind)
        if parser is None:
            message = f"unknown instruction: {node.keyword}"
            hint = suggest(node.keyword, INSTRUCTIONS, case_sensitive=False)
            raise WordError(f"{message} (did you mean {hint}?)" if hint else message)
        payload = parser(node)
    except WordError as err:
        raise DockerfileError(str(err), node.line, end_line=node.end_line, parse_error=True) from None
    return Instruction(line=node.line, end_line=node.end_line, keyword=node.keyword.upper(),
                       original=node.original, payload=payload)
