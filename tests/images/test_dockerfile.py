"""Dockerfile front end: lexer, line scanner, instructions, expansion, stages, errors.

Tables of cases, each asserting the exact parsed value or Docker's exact error text.
"""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.images.dockerfile import (
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
    parse_dockerfile,
    platform_args,
)
from kybernetes.images.dockerfile_values import parse_go_duration
from kybernetes.images.dockerfile_words import ShellLex, WordError

SECOND = 1_000_000_000


def case(*values: object, id: str) -> object:
    return pytest.param(*values, id=id)


# --- the builder's shell lexer -------------------------------------------------------------------------------

ENV = {"HOME": "/root", "NAME": "world", "EMPTY": "", "SPACED": " a  b ", "PATH": "/usr/bin:/bin",
       "FILE": "archive.tar.gz"}


@pytest.mark.parametrize(("word", "expected"), [
    case("plain", "plain", id="plain"),
    case("$NAME", "world", id="dollar-name"),
    case("${NAME}", "world", id="braced"),
    case("x${NAME}y", "xworldy", id="braced-inside-word"),
    case("$NAME.txt", "world.txt", id="name-ends-at-dot"),
    case("$UNSET", "", id="unset-is-empty"),
    case("${UNSET:-fallback}", "fallback", id="colon-dash-unset"),
    case("${EMPTY:-fallback}", "fallback", id="colon-dash-empty"),
    case("${EMPTY-fallback}", "", id="dash-empty-is-set"),
    case("${UNSET-fallback}", "fallback", id="dash-unset"),
    case("${NAME:+alt}", "alt", id="colon-plus-set"),
    case("${EMPTY:+alt}", "", id="colon-plus-empty"),
    case("${EMPTY+alt}", "alt", id="plus-empty-is-set"),
    case("${UNSET+alt}", "", id="plus-unset"),
    case("${UNSET:-${NAME:-x}}", "world", id="nested-default"),
    case("${UNSET:-$HOME/dir}", "/root/dir", id="default-with-variable"),
    case("${EMPTY?}", "", id="question-empty-ok"),
    case("${FILE%.*}", "archive.tar", id="shortest-suffix"),
    case("${FILE%%.*}", "archive", id="longest-suffix"),
    case("${FILE#*.}", "tar.gz", id="shortest-prefix"),
    case("${FILE##*.}", "gz", id="longest-prefix"),
    case("${PATH/bin/sbin}", "/usr/sbin:/bin", id="replace-first"),
    case("${PATH//bin/sbin}", "/usr/sbin:/sbin", id="replace-all"),
    case("\\$NAME", "$NAME", id="escaped-dollar"),
    case("'$NAME'", "$NAME", id="single-quotes-literal"),
    case('"$NAME"', "world", id="double-quotes-expand"),
    case('"a \\"q\\" b"', 'a "q" b', id="escaped-double-quote"),
    case('"a\\tb"', "a\\tb", id="backslash-kept-in-double-quotes"),
    case("a\\tb", "atb", id="backslash-outside-quotes-eats"),
    case("'a\\tb'", "a\\tb", id="backslash-kept-in-single-quotes"),
    case("he'll'o", "hello", id="quote-removal"),
    case('"it\'s"', "it's", id="single-quote-inside-double"),
    case("$", "$", id="lone-dollar"),
    case("$.x", "$.x", id="dollar-not-a-name"),
    case("a$1b", "ab", id="positional-digit"),
    case("trailing\\", "trailing", id="trailing-escape-dropped"),
    case("${SPACED}", " a  b ", id="spaces-kept"),
    case("안'녕'", "안녕", id="unicode"),
])
def test_process_word(word: str, expected: str) -> None:
    assert ShellLex("\\").process_word(word, ENV) == expected


@pytest.mark.parametrize(("word", "message"), [
    case("'open", "failed to process \"'open\": unexpected end of statement while looking for matching "
                  "single-quote", id="open-single-quote"),
    case('"open', "failed to process \"\\\"open\": unexpected end of statement while looking for matching "
                  "double-quote", id="open-double-quote"),
    case("${NAME", "failed to process \"${NAME\": unsupported modifier (\ufffd) in substitution",
         id="brace-unclosed-after-name"),
    case("${", "failed to process \"${\": syntax error: missing '}'", id="brace-at-end"),
    case("${}", "failed to process \"${}\": syntax error: bad substitution", id="empty-braces"),
    case("${:x}", "failed to process \"${:x}\": syntax error: bad substitution", id="colon-first"),
    case("${UNSET:-x", "failed to process \"${UNSET:-x\": syntax error: missing '}'", id="default-unclosed"),
    case("${NAME:=x}", "failed to process \"${NAME:=x}\": unsupported modifier (:=) in substitution",
         id="assign-modifier"),
    case("${UNSET?}", "failed to process \"${UNSET?}\": UNSET: is not allowed to be unset", id="required-unset"),
    case("${EMPTY:?need it}", "failed to process \"${EMPTY:?need it}\": EMPTY: need it", id="required-message"),
    case("${NAME:#x}", "failed to process \"${NAME:#x}\": unsupported modifier (:#) in substitution",
         id="colon-hash"),
])
def test_process_word_errors(word: str, message: str) -> None:
    with pytest.raises(WordError) as err:
        ShellLex("\\").process_word(word, ENV)
    assert str(err.value) == message


@pytest.mark.parametrize(("word", "expected"), [
    case("a b  c", ["a", "b", "c"], id="split-on-spaces"),
    case("x${SPACED}y", ["x", "a", "b", "y"], id="variable-spaces-split"),
    case('x"${SPACED}"y', ["x a  b y"], id="quoted-variable-not-split"),
    case("a\\ b", ["a b"], id="escaped-space"),
    case("a '' b", ["a", "b"], id="empty-quotes-vanish"),
    case("  ", [], id="only-spaces"),
])
def test_process_words(word: str, expected: list[str]) -> None:
    assert ShellLex("\\").process_words(word, ENV) == expected


def test_backtick_escape_leaves_backslash_alone() -> None:
    assert ShellLex("`").process_word("C:\\dir`$NAME", ENV) == "C:\\dir$NAME"


@pytest.mark.parametrize(("text", "nanos"), [
    case("30s", 30 * SECOND, id="seconds"),
    case("1.5s", 1_500_000_000, id="fraction"),
    case("1h30m", 5400 * SECOND, id="compound"),
    case("300ms", 300_000_000, id="millis"),
    case("10us", 10_000, id="micros"),
    case("2\u00b5s", 2_000, id="micro-sign"),
    case("0", 0, id="bare-zero"),
    case("-2s", -2 * SECOND, id="negative"),
    case(".5m", 30 * SECOND, id="leading-dot"),
])
def test_go_durations(text: str, nanos: int) -> None:
    assert parse_go_duration(text) == nanos


@pytest.mark.parametrize(("text", "message"), [
    case("", 'time: invalid duration ""', id="empty"),
    case("5", 'time: missing unit in duration "5"', id="missing-unit"),
    case("5x", 'time: unknown unit "x" in duration "5x"', id="unknown-unit"),
    case("abc", 'time: invalid duration "abc"', id="letters"),
    case(".s", 'time: invalid duration ".s"', id="dot-only"),
])
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(WordError) as err:
        parse_go_duration(text)
    assert str(err.value) == message


# --- helpers ------------------------------------------------------------------------------------------------


def only(body: str, **kwargs: Any) -> Payload:
    """The payload of the single instruction after ``FROM scratch``."""
    df = parse_dockerfile("FROM scratch\n" + body, **kwargs)
    [ins] = df.stages[-1].instructions
    return ins.payload


def error_of(text: str, **kwargs: Any) -> str:
    with pytest.raises(DockerfileError) as err:
        parse_dockerfile(text, **kwargs)
    return str(err.value)


# --- instructions, one per row ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "payload"), [
    case("RUN echo hi", Run(("echo hi",), True), id="run-shell"),
    case('RUN ["echo", "hi"]', Run(("echo", "hi"), False), id="run-exec"),
    case("RUN [echo, hi]", Run(("[echo, hi]",), True), id="run-bad-json-is-shell"),
    case('RUN ["echo", "hi"] extra', Run(('["echo", "hi"] extra',), True), id="run-json-trailing-text"),
    case("RUN echo $HOME", Run(("echo $HOME",), True), id="run-not-expanded"),
    case("run   echo   spaced", Run(("echo   spaced",), True), id="lowercase-keyword-inner-spaces-kept"),
    case("RUN --network=none true", Run(("true",), True, network="none"), id="run-network"),
    case("RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make",
         Run(("make",), True, mounts=("type=cache,target=/c", "type=tmpfs,target=/t")), id="run-mounts"),
    case("RUN --security=insecure id", Run(("id",), True, security="insecure"), id="run-security"),
    case("RUN -- --not-a-flag", Run(("--not-a-flag",), True), id="double-dash-ends-flags"),
    case("CMD echo hi", Cmd(("echo hi",), True), id="cmd-shell"),
    case('CMD ["nginx", "-g", "daemon off;"]', Cmd(("nginx", "-g", "daemon off;"), False), id="cmd-exec"),
    case("CMD []", Cmd((), False), id="cmd-empty-array"),
    case('ENTRYPOINT ["/entry.sh"]', Entrypoint(("/entry.sh",), False), id="entrypoint-exec"),
    case("ENTRYPOINT exec top -b", Entrypoint(("exec top -b",), True), id="entrypoint-shell"),
    case('SHELL ["/bin/bash", "-euo", "pipefail", "-c"]', Shell(("/bin/bash", "-euo", "pipefail", "-c")),
         id="shell"),
    case("ENV A=1", Env((("A", "1"),)), id="env-one"),
    case('ENV A=1 B="two words" C=three\\ words', Env((("A", "1"), ("B", "two words"), ("C", "three words"))),
         id="env-many-quoted-escaped"),
    case("ENV A 1 2  3", Env((("A", "1 2  3"),), legacy=True), id="env-legacy-keeps-spaces"),
    case("ENV A='$HOME'", Env((("A", "$HOME"),)), id="env-single-quotes-no-expansion"),
    case("ENV A=", Env((("A", ""),)), id="env-empty-value"),
    case('ENV A=""', Env((("A", ""),)), id="env-empty-quoted-value"),
    case("LABEL a=b \"c d\"=e", Label((("a", "b"), ("c d", "e"))), id="label-quoted-key"),
    case('LABEL org.opencontainers.image.title="My App"', Label((("org.opencontainers.image.title", "My App"),)),
         id="label-dotted"),
    case("ARG A", Arg((ArgDef("A", None, None, False),)), id="arg-no-default"),
    case("ARG A=1 B", Arg((ArgDef("A", "1", "1", False), ArgDef("B", None, None, False))), id="arg-two"),
    case('ARG A="x y"', Arg((ArgDef("A", '"x y"', "x y", False),)), id="arg-quoted-default"),
    case("EXPOSE 80", Expose(("80/tcp",)), id="expose-default-tcp"),
    case("EXPOSE 53/udp 80/TCP", Expose(("53/udp", "80/tcp")), id="expose-protocols"),
    case("EXPOSE 8000-8002", Expose(("8000/tcp", "8001/tcp", "8002/tcp")), id="expose-range"),
    case("EXPOSE 9000 80", Expose(("80/tcp", "9000/tcp")), id="expose-sorted-like-docker"),
    case("WORKDIR /app", Workdir("/app"), id="workdir"),
    case("WORKDIR /path with spaces", Workdir("/path with spaces"), id="workdir-spaces"),
    case("USER 1000:1000", User("1000:1000"), id="user"),
    case("VOLUME /data /logs", Volume(("/data", "/logs")), id="volume-words"),
    case('VOLUME ["/my data"]', Volume(("/my data",)), id="volume-json"),
    case("STOPSIGNAL SIGQUIT", StopSignal("SIGQUIT"), id="stopsignal-name"),
    case("STOPSIGNAL 9", StopSignal("9"), id="stopsignal-number"),
    case("STOPSIGNAL rtmin+3", StopSignal("rtmin+3"), id="stopsignal-realtime"),
    case("HEALTHCHECK NONE", Healthcheck(("NONE",)), id="healthcheck-none"),
    case("HEALTHCHECK CMD curl -f http://localhost/", Healthcheck(("CMD-SHELL", "curl -f http://localhost/")),
         id="healthcheck-shell"),
    case('HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --start-interval=500ms --retries=3 '
         'CMD ["/check", "-q"]',
         Healthcheck(("CMD", "/check", "-q"), 300 * SECOND, 3 * SECOND, SECOND, 500_000_000, 3),
         id="healthcheck-exec-all-flags"),
    case("healthcheck cmd true", Healthcheck(("CMD-SHELL", "true")), id="healthcheck-lowercase"),
    case("HEALTHCHECK --interval=0s CMD true", Healthcheck(("CMD-SHELL", "true")), id="healthcheck-zero-inherits"),
    case("HEALTHCHECK --bogus NONE", Healthcheck(("NONE",)), id="healthcheck-none-ignores-flags"),
    case("STOPSIGNAL --bogus SIGINT", StopSignal("SIGINT"), id="stopsignal-ignores-flags"),
    case("ARG --bogus A=1", Arg((ArgDef("A", "1", "1", False),)), id="arg-ignores-flags"),
    case("EXPOSE 127.0.0.1:8080:80/udp", Expose(("80/udp",)), id="expose-host-mapping-dropped"),
    case("EXPOSE [::1]:8080:80", Expose(("80/tcp",)), id="expose-ipv6-host"),
    case("ENV A=\"x \\\n   y\"", Env((("A", "x    y"),)), id="env-quote-across-continuation"),
    case("ONBUILD RUN make", Onbuild("RUN make", "RUN"), id="onbuild"),
    case("onbuild  copy . /src", Onbuild("copy . /src", "COPY"), id="onbuild-lowercase"),
    case("MAINTAINER Jane <jane@example.com>", Maintainer("Jane <jane@example.com>"), id="maintainer"),
    case("COPY a /b", Copy(("a",), "/b"), id="copy"),
    case("COPY a b c /d/", Copy(("a", "b", "c"), "/d/"), id="copy-many"),
    case('COPY ["my file", "/dest dir/"]', Copy(("my file",), "/dest dir/", json_form=True), id="copy-json"),
    case("COPY --chown=app:app --chmod=0755 --link run.sh /",
         Copy(("run.sh",), "/", chown="app:app", chmod="0755", link=True), id="copy-flags"),
    case("COPY --link=false a /", Copy(("a",), "/"), id="copy-link-false"),
    case("COPY --parents --exclude=*.md --exclude=*.txt ./docs /",
         Copy(("./docs",), "/", parents=True, excludes=("*.md", "*.txt")), id="copy-parents-excludes"),
    case("COPY --from=nginx:latest /etc/nginx/nginx.conf /",
         Copy(("/etc/nginx/nginx.conf",), "/", from_stage="nginx:latest"), id="copy-from-image"),
    case('COPY --chown="a b" x /', Copy(("x",), "/", chown="a b"), id="copy-quoted-flag"),
    case("ADD https://example.com/a.tgz /", Add(("https://example.com/a.tgz",), "/"), id="add-url"),
    case("ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false src /",
         Add(("src",), "/", checksum="sha256:abc", keep_git_dir=True, unpack=False), id="add-flags"),
])
def test_instruction(body: str, payload: Payload) -> None:
    assert only(body) == payload


@pytest.mark.parametrize(("text", "expected"), [
    case("RUN a \\\n    b", ("RUN a     b", 1, 2), id="continuation-keeps-indent"),
    case("RUN a\\\n b", ("RUN a b", 1, 2), id="continuation-no-space-before"),
    case("RUN a \\  \t\n b", ("RUN a  b", 1, 2), id="trailing-spaces-after-escape"),
    case("RUN a \\\n# note\n  b", ("RUN a   b", 1, 3), id="comment-inside-continuation"),
    case("RUN a \\\n    # indented note\n  b", ("RUN a   b", 1, 3), id="indented-comment-inside"),
    case("RUN a \\\n\n  b", ("RUN a   b", 1, 3), id="empty-continuation-line"),
    case("RUN a \\", ("RUN a ", 1, 1), id="continuation-at-eof"),
    case("RUN a \\\\", ("RUN a \\\\", 1, 1), id="escaped-escape-is-not-continuation"),
    case("  RUN indented", ("RUN indented", 1, 1), id="leading-whitespace"),
    case("RUN a\r\n", ("RUN a", 1, 1), id="crlf"),
    case("RUN a # not a comment", ("RUN a # not a comment", 1, 1), id="hash-inside-line"),
])
def test_lines(text: str, expected: tuple[str, int, int]) -> None:
    df = parse_dockerfile("FROM scratch\n" + text)
    [ins] = df.stages[0].instructions
    assert (ins.original, ins.line - 1, ins.end_line - 1) == expected


def test_line_numbers_count_comments_blanks_and_continuations() -> None:
    df = parse_dockerfile("# top\n\nFROM alpine\n\n# c\nRUN a \\\n  b \\\n  c\nENV X=1\n")
    [run, env] = df.stages[0].instructions
    assert (df.stages[0].line, run.line, run.end_line, env.line) == (3, 6, 8, 9)


@pytest.mark.parametrize(("text", "expected"), [
    case("# escape=`\nFROM scratch\nRUN a `\n  b", "a   b", id="backtick-continuation"),
    case("# escape=`\nFROM scratch\nRUN dir C:\\\nRUN x", "dir C:\\", id="backslash-literal-with-backtick"),
    case("# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nRUN a `\nb", "a b", id="syntax-then-escape"),
    case("#   ESCAPE = `\nFROM scratch\nRUN a `\nb", "a b", id="directive-case-and-spaces"),
    case("# hello\n# escape=`\nFROM scratch\nRUN a `\nRUN b", "a `", id="directive-after-comment-ignored"),
    case("\n# escape=`\nFROM scratch\nRUN a `\nRUN b", "a `", id="directive-after-blank-ignored"),
    case("# check=skip=all\nFROM scratch\nRUN a", "a", id="check-directive-ignored"),
    case("\ufeffFROM scratch\nRUN bom", "bom", id="byte-order-mark"),
])
def test_directives(text: str, expected: str) -> None:
    payload = parse_dockerfile(text).stages[0].instructions[0].payload
    assert isinstance(payload, Run)
    assert payload.command == (expected,)


def test_escape_backtick_recorded() -> None:
    assert parse_dockerfile("# escape=`\nFROM scratch").escape == "`"


# --- heredocs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "payload"), [
    case("RUN <<EOF\necho a\necho b\nEOF", Run(("echo a\necho b\n",), True,
                                              heredocs=(Heredoc("EOF", "echo a\necho b\n"),)), id="run-script"),
    case("RUN <<-EOF\n\techo a\n\tEOF", Run(("echo a\n",), True,
                                            heredocs=(Heredoc("EOF", "\techo a\n", chomp=True),)),
         id="run-chomp-tabs"),
    case("RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF",
         Run(("/dev/pipes/EOF",), True, heredocs=(Heredoc("EOF", "#!/usr/bin/env python3\nprint(1)\n"),),
             pipe_files=(InlineFile("EOF", "#!/usr/bin/env python3\nprint(1)\n"),)), id="run-shebang-script"),
    case("RUN python3 <<EOF\nprint(1)\nEOF", Run(("python3 <<EOF\nprint(1)\nEOF",), True,
                                                heredocs=(Heredoc("EOF", "print(1)\n"),)),
         id="run-heredoc-as-stdin"),
    case("RUN cat <<'END' > /f\n$HOME\nEND", Run(("cat <<'END' > /f\n$HOME\nEND",), True,
                                                 heredocs=(Heredoc("END", "$HOME\n", expand=False),)),
         id="run-quoted-name"),
    case("RUN <<A <<B\na\nA\nb\nB", Run(("<<A <<B\na\nA\nb\nB",), True,
                                        heredocs=(Heredoc("A", "a\n"), Heredoc("B", "b\n"))), id="run-two-heredocs"),
    case("COPY <<EOF /etc/motd\nhello $NAME\nEOF", Copy((), "/etc/motd",
                                                      inline_files=(InlineFile("EOF", "hello you\n", True),)),
         id="copy-heredoc-expanded"),
    case("COPY <<'EOF' /etc/motd\nhello $NAME\nEOF", Copy((), "/etc/motd",
                                                        inline_files=(InlineFile("EOF", "hello $NAME\n"),)),
         id="copy-heredoc-quoted-not-expanded"),
    case('COPY <<EOF /f\nsay "$NAME"\nEOF', Copy((), "/f", inline_files=(InlineFile("EOF", 'say "you"\n', True),)),
         id="copy-heredoc-quotes-kept"),
    case("COPY <<A <<B /dir/\n1\nA\n2\nB", Copy((), "/dir/", inline_files=(InlineFile("A", "1\n", True),
                                                                          InlineFile("B", "2\n", True))),
         id="copy-two-heredocs"),
    case('RUN ["sh", "-c", "cat <<EOF"]', Run(("sh", "-c", "cat <<EOF"), False), id="exec-form-no-heredoc"),
    case("RUN echo '<<EOF'", Run(("echo '<<EOF'",), True), id="quoted-marker-not-heredoc"),
])
def test_heredocs(body: str, payload: Payload) -> None:
    df = parse_dockerfile("FROM scratch\nENV NAME=you\n" + body)
    ins = df.stages[0].instructions[1]
    actual = ins.payload
    if isinstance(actual, Run):
        actual = Run(actual.command, actual.shell_form, actual.heredocs, actual.pipe_files)
    assert actual == payload


def test_heredoc_lines_and_following_instruction() -> None:
    df = parse_dockerfile("FROM scratch\nRUN <<EOF\na\nb\nEOF\nRUN after")
    first, second = df.stages[0].instructions
    assert (first.line, first.end_line, first.original, second.line) == (2, 5, "RUN <<EOF", 6)


def test_onbuild_heredoc_expression() -> None:
    assert only("ONBUILD RUN <<EOF\necho hi\nEOF") == Onbuild("RUN <<EOF\necho hi\nEOF", "RUN")


# --- expansion rules ---------------------------------------------------------------------------------------------


def stage_payloads(text: str, **kwargs: Any) -> list[Payload]:
    df = parse_dockerfile(text, **kwargs)
    return [ins.payload for ins in df.stages[-1].instructions]


@pytest.mark.parametrize(("text", "expected"), [
    case("FROM scratch\nENV A=1\nENV B=$A", Env((("B", "1"),)), id="env-sees-earlier-env"),
    case("FROM scratch\nENV A=1\nENV A=2 B=$A", Env((("A", "2"), ("B", "1"))), id="same-line-sees-old-value"),
    case("FROM scratch\nENV A=1\nWORKDIR /x/$A", Workdir("/x/1"), id="workdir-expands"),
    case("FROM scratch\nENV U=app\nUSER $U", User("app"), id="user-expands"),
    case("FROM scratch\nENV D=/data\nVOLUME $D ${D}2", Volume(("/data", "/data2")), id="volume-expands"),
    case("FROM scratch\nENV P=8080\nEXPOSE $P", Expose(("8080/tcp",)), id="expose-expands"),
    case("FROM scratch\nENV P='80 443'\nEXPOSE $P", Expose(("80/tcp", "443/tcp")), id="expose-splits-words"),
    case("FROM scratch\nENV S=SIGTERM\nSTOPSIGNAL $S", StopSignal("SIGTERM"), id="stopsignal-expands"),
    case("FROM scratch\nENV V=1.0\nLABEL version=$V", Label((("version", "1.0"),)), id="label-expands"),
    case("FROM scratch\nENV K=key\nLABEL $K=v", Label((("key", "v"),)), id="label-key-expands"),
    case("FROM scratch\nENV D=/app\nCOPY --chown=$D:x src/$D $D/",
         Copy(("src//app",), "/app/", chown="/app:x"), id="copy-expands-paths-and-flags"),
    case("FROM scratch\nENV A=1\nCMD echo $A", Cmd(("echo $A",), True), id="cmd-not-expanded"),
    case("FROM scratch\nENV A=1\nENTRYPOINT [\"$A\"]", Entrypoint(("$A",), False), id="entrypoint-not-expanded"),
    case("FROM scratch\nENV A=1\nHEALTHCHECK CMD test $A", Healthcheck(("CMD-SHELL", "test $A")),
         id="healthcheck-not-expanded"),
    case("FROM scratch\nENV A=1\nONBUILD RUN echo $A", Onbuild("RUN echo $A", "RUN"), id="onbuild-not-expanded"),
    case("FROM scratch\nENV A=1\nMAINTAINER $A", Maintainer("$A"), id="maintainer-not-expanded"),
    case("FROM scratch\nARG A=1\nENV B=${A}0", Env((("B", "10"),)), id="env-sees-arg"),
    case("FROM scratch\nARG A\nENV B=x${A}x", Env((("B", "xx"),)), id="arg-without-value-is-unset"),
    case("FROM scratch\nENV A=e\nARG A\nENV B=$A", Env((("B", "e"),)), id="arg-without-value-keeps-env"),
    case("FROM scratch\nARG V=1\nARG W=${V}.0", Arg((ArgDef("W", "${V}.0", "1.0", False),)),
         id="arg-default-expands"),
    case("FROM scratch\nENV A=\\$HOME\nENV B=$A", Env((("B", "$HOME"),)), id="no-double-expansion"),
])
def test_expansion(text: str, expected: Payload) -> None:
    assert stage_payloads(text)[-1] == expected


@pytest.mark.parametrize(("text", "build_args", "expected"), [
    case("FROM scratch\nARG A=default\nENV B=$A", {"A": "cli"}, Env((("B", "cli"),)), id="build-arg-wins"),
    case("FROM scratch\nARG A\nENV B=$A", {"A": "cli"}, Env((("B", "cli"),)), id="build-arg-fills-bare-arg"),
    case("FROM scratch\nENV B=$A", {"A": "cli"}, Env((("B", ""),)), id="build-arg-needs-arg"),
    case("ARG G=g\nFROM scratch\nENV B=x$G", {}, Env((("B", "x"),)), id="global-arg-not-in-stage"),
    case("ARG G=g\nFROM scratch\nARG G\nENV B=x$G", {}, Env((("B", "xg"),)), id="global-arg-redeclared"),
    case("ARG G=g\nFROM scratch\nARG G\nENV B=x$G", {"G": "cli"}, Env((("B", "xcli"),)),
         id="global-arg-redeclared-build-arg"),
    case("ARG G=g\nFROM scratch\nARG G=local\nENV B=$G", {}, Env((("B", "local"),)),
         id="stage-default-beats-global"),
    case("FROM scratch\nARG A=1\nARG A\nENV B=$A", {}, Env((("B", "1"),)), id="redeclared-bare-keeps-value"),
])
def test_build_args(text: str, build_args: dict[str, str], expected: Payload) -> None:
    assert stage_payloads(text, build_args=build_args)[-1] == expected


def test_arg_records_supplied_and_value() -> None:
    df = parse_dockerfile("ARG A=1 B\nFROM scratch\nARG A\nARG C=3 D", build_args={"B": "b", "D": "d"})
    [glob] = df.global_args
    assert glob.payload == Arg((ArgDef("A", "1", "1", False), ArgDef("B", None, "b", True)))
    assert [ins.payload for ins in df.stages[0].instructions] == [
        Arg((ArgDef("A", None, "1", False),)),
        Arg((ArgDef("C", "3", "3", False), ArgDef("D", None, "d", True))),
    ]
    assert df.meta_args == {"A": "1", "B": "b"}


@pytest.mark.parametrize(("text", "build_args", "base", "platform"), [
    case("ARG V=3.19\nFROM alpine:$V", {}, "alpine:3.19", None, id="global-arg-in-from"),
    case("ARG V=3.19\nFROM alpine:$V", {"V": "edge"}, "alpine:edge", None, id="build-arg-in-from"),
    case("ARG IMG=debian\nARG REF=${IMG}:12\nFROM $REF", {}, "debian:12", None, id="global-args-chain"),
    case("FROM ${IMG:-busybox}", {}, "busybox", None, id="default-in-from"),
    case("FROM ${IMG:-busybox}", {"IMG": "x"}, "busybox", None, id="undeclared-build-arg-not-used-in-from"),
    case("FROM --platform=$BUILDPLATFORM golang AS build", {}, "golang", "linux/arm64", id="platform-builtin"),
    case("ARG P=linux/riscv64\nFROM --platform=$P alpine", {}, "alpine", "linux/riscv64", id="platform-arg"),
])
def test_from_expansion(text: str, build_args: dict[str, str], base: str, platform: str | None) -> None:
    df = parse_dockerfile(text, build_args=build_args, builtin_args=platform_args("linux", "arm64"))
    assert (df.stages[0].base, df.stages[0].platform) == (base, platform)


def test_builtin_args_must_be_declared_in_stage() -> None:
    payloads = stage_payloads("FROM scratch\nENV A=x$TARGETARCH\nARG TARGETARCH\nENV B=$TARGETARCH",
                              builtin_args=platform_args("linux", "arm64", "v8"))
    assert payloads == [Env((("A", "x"),)), Arg((ArgDef("TARGETARCH", None, "arm64", False),)),
                        Env((("B", "arm64"),))]


def test_platform_args() -> None:
    assert platform_args("linux", "arm", "v7", build_arch="amd64", build_variant="") == {
        "TARGETPLATFORM": "linux/arm/v7", "TARGETOS": "linux", "TARGETOSVERSION": "", "TARGETARCH": "arm",
        "TARGETVARIANT": "v7", "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDOSVERSION": "",
        "BUILDARCH": "amd64", "BUILDVARIANT": "",
    }


@pytest.mark.parametrize(("target", "build_args", "expected"), [
    case(None, {}, "final", id="last-stage-name"),
    case("build", {}, "build", id="explicit-target"),
    case(None, {"TARGETSTAGE": "x", "TARGETARCH": "s390x"}, "x", id="build-arg-overrides-builtin"),
])
def test_target_stage_builtin(target: str | None, build_args: dict[str, str], expected: str) -> None:
    df = parse_dockerfile("FROM a AS build\nFROM b AS final", target=target, build_args=build_args,
                          builtin_args=platform_args())
    assert df.meta_args["TARGETSTAGE"] == expected
    assert df.meta_args["TARGETARCH"] == build_args.get("TARGETARCH", "amd64")
    assert df.unused_build_args() == []  # builtin names are never reported


def test_image_env_seeds_expansion() -> None:
    payloads = stage_payloads("FROM golang:1.22\nENV PATH=/opt/bin:$PATH\nRUN go version",
                              image_env={"golang:1.22": {"PATH": "/usr/local/go/bin:/usr/bin", "GOPATH": "/go"}})
    assert payloads[0] == Env((("PATH", "/opt/bin:/usr/local/go/bin:/usr/bin"),))
    assert isinstance(payloads[1], Run)
    assert payloads[1].env == {"PATH": "/opt/bin:/usr/local/go/bin:/usr/bin", "GOPATH": "/go"}


def test_stage_inherits_env_and_args_of_base_stage() -> None:
    df = parse_dockerfile("FROM alpine AS base\nARG V=1\nENV E=2\nFROM base\nRUN x\nENV F=$E$V")
    run, env = [ins.payload for ins in df.stages[1].instructions]
    assert isinstance(run, Run)
    assert (run.env, env) == ({"V": "1", "E": "2"}, Env((("F", "21"),)))


@pytest.mark.parametrize(("body", "unsupported"), [
    case("RUN true", False, id="plain"),
    case("RUN --network=default true", False, id="default-network"),
    case("RUN --network=host true", True, id="host-network"),
    case("RUN --security=sandbox true", False, id="sandbox"),
    case("RUN --mount=type=cache,target=/c true", True, id="mount"),
    case("RUN --device=name=x true", True, id="device"),
])
def test_run_buildkit_flags(body: str, unsupported: bool) -> None:
    payload = only(body)
    assert isinstance(payload, Run)
    assert payload.uses_buildkit_flags is unsupported


def test_run_env_has_args_and_proxies() -> None:
    [_arg, run] = stage_payloads("FROM scratch\nARG A=1\nRUN env", build_args={"HTTP_PROXY": "http://p:3128"})
    assert isinstance(run, Run)
    assert run.env == {"HTTP_PROXY": "http://p:3128", "A": "1"}


# --- stages, targets and dependencies ------------------------------------------------------------------------------

MULTI = """\
FROM golang AS build
RUN make
FROM alpine AS tools
RUN apk add curl
FROM build AS test
RUN make test
FROM scratch AS final
COPY --from=build /out /app
COPY --from=1 /usr/bin/curl /bin/
FROM final AS debug
COPY --from=busybox:latest /bin/sh /bin/sh
"""


@pytest.mark.parametrize(("target", "names", "needed"), [
    case(None, ["build", "tools", "test", "final", "debug"], [0, 1, 3, 4], id="default-last"),
    case("final", ["build", "tools", "test", "final"], [0, 1, 3], id="final"),
    case("FINAL", ["build", "tools", "test", "final"], [0, 1, 3], id="case-insensitive"),
    case("test", ["build", "tools", "test"], [0, 2], id="test"),
    case("build", ["build"], [0], id="first"),
])
def test_targets(target: str | None, names: list[str], needed: list[int]) -> None:
    df = parse_dockerfile(MULTI, target=target)
    assert [s.name for s in df.stages] == names
    assert [s.index for s in df.stages if s.needed] == needed
    assert df.required_stages() == needed


def test_stage_links() -> None:
    df = parse_dockerfile(MULTI)
    assert [(s.base_stage, s.depends_on) for s in df.stages] == [
        (None, ()), (None, ()), (0, (0,)), (None, (0, 1)), (3, (3,)),
    ]
    copies = [i.payload for i in df.stages[3].instructions] + [i.payload for i in df.stages[4].instructions]
    assert [(c.from_stage, c.from_index) for c in copies if isinstance(c, Copy)] == [
        ("build", 0), ("1", 1), ("busybox:latest", None),
    ]
    assert df.stage("Tools") is df.stages[1]
    assert df.stage(4) is df.stages[4]
    assert df.stage("nope") is None
    assert df.required_stages(2) == [0, 2]
    assert df.stages[3].is_scratch and not df.stages[4].is_scratch


def test_unnamed_stages_and_display_names() -> None:
    df = parse_dockerfile("FROM alpine\nFROM 0\nFROM alpine AS Named")
    assert [(s.name, s.display_name, s.base_stage) for s in df.stages] == [
        (None, "stage-0", None), (None, "stage-1", None), ("named", "named", None),
    ]


def test_from_stage_name_is_exact_after_lowercasing() -> None:
    df = parse_dockerfile("FROM alpine AS Base\nFROM base\nFROM Base")
    assert [s.base_stage for s in df.stages] == [None, 0, None]


def test_run_mount_from_creates_dependency() -> None:
    df = parse_dockerfile("FROM alpine AS deps\nFROM alpine\nRUN --mount=type=bind,from=deps,target=/d ls /d")
    assert df.stages[1].depends_on == (0,)


def test_unneeded_stage_expansion_error_is_a_warning() -> None:
    df = parse_dockerfile("FROM alpine AS broken\nENV A=${\nFROM alpine\nRUN ok")
    assert [s.needed for s in df.stages] == [False, True]
    assert df.warnings == ["line 2: failed to process \"${\": syntax error: missing '}' "
                           "(stage not needed for the target; ignored)"]


# --- warnings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "build_args", "warnings"), [
    case("FROM scratch\nMAINTAINER me", {},
         ["MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)"],
         id="maintainer"),
    case("FROM scratch\nENV A 1", {},
         ['LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)'],
         id="legacy-env"),
    case("FROM scratch\nRUN a \\\n\n b", {}, ["NoEmptyContinuation: Empty continuation line (line 4)"],
         id="empty-continuation"),
    case("FROM a AS x\nFROM b AS x", {},
         ['DuplicateStageName: Duplicate stage name "x", stage names should be unique (line 2)'], id="duplicate"),
    case("FROM a AS Build", {}, ["StageNameCasing: Stage name 'Build' should be lowercase (line 1)"],
         id="stage-casing"),
    case("FROM a AS scratch", {},
         ['ReservedStageName: Stage name should not use the same name as reserved stage "scratch" (line 1)'],
         id="reserved-name"),
])
def test_warnings(text: str, build_args: dict[str, str], warnings: list[str]) -> None:
    assert parse_dockerfile(text, build_args=build_args).warnings == warnings


@pytest.mark.parametrize(("text", "build_args", "unused"), [
    case("FROM scratch", {"FOO": "1"}, ["FOO"], id="unused"),
    case("FROM scratch\nARG FOO", {"FOO": "1"}, [], id="declared-in-stage"),
    case("ARG FOO\nFROM scratch", {"FOO": "1"}, [], id="declared-globally"),
    case("FROM scratch", {"HTTP_PROXY": "x", "no_proxy": "y"}, [], id="proxies-are-builtin"),
    case("FROM scratch", {"B": "1", "A": "2"}, ["A", "B"], id="sorted"),
    case("FROM scratch AS a\nARG FOO\nFROM scratch", {"FOO": "1"}, ["FOO"], id="declared-in-unneeded-stage"),
])
def test_unused_build_args(text: str, build_args: dict[str, str], unused: list[str]) -> None:
    df = parse_dockerfile(text, build_args=build_args)
    assert df.unused_build_args() == unused


def test_unused_build_args_warning_text() -> None:
    df = parse_dockerfile("FROM scratch", build_args={"FOO": "1", "BAR": "2"})
    assert df.unused_build_args_warning() == "[Warning] One or more build-args [BAR FOO] were not consumed"
    assert parse_dockerfile("FROM scratch").unused_build_args_warning() is None


# --- errors --------------------------------------------------------------------------------------------------------

P = "dockerfile parse error on line"


@pytest.mark.parametrize(("text", "message"), [
    case("", "the Dockerfile cannot be empty", id="empty"),
    case("\n  \n# only a comment\n", "file with no instructions", id="no-instructions"),
    case("ARG A=1\n", "dockerfile contains no stages to build", id="only-args"),
    case("RUN echo\nFROM scratch", "no build stage in current context", id="run-before-from"),
    case("FROM scratch\nFORM x", f"{P} 2: unknown instruction: FORM (did you mean FROM?)", id="typo-upper"),
    case("FROM scratch\ncopyy a b", f"{P} 2: unknown instruction: copyy (did you mean copy?)", id="typo-lower"),
    case("FROM scratch\nFOOBAR x", f"{P} 2: unknown instruction: FOOBAR", id="unknown-no-hint"),
    case("FROM", f"{P} 1: FROM requires either one or three arguments", id="from-no-args"),
    case("FROM a b", f"{P} 1: FROM requires either one or three arguments", id="from-two-args"),
    case("FROM a TO b", f"{P} 1: FROM requires either one or three arguments", id="from-not-as"),
    case("FROM a AS 1st", f'{P} 1: invalid name for build stage: "1st", name can\'t start with a number or '
                          "contain symbols", id="from-bad-name"),
    case("FROM --platfrom=x a", f"{P} 1: unknown flag: --platfrom (did you mean platform?)", id="flag-typo"),
    case("FROM scratch\nRUN --foo true", f"{P} 2: unknown flag: --foo", id="unknown-flag"),
    case("FROM scratch\nCMD --help", f"{P} 2: unknown flag: --help", id="cmd-takes-no-flags"),
    case("FROM scratch\nENV --x=1 A=1", f"{P} 2: unknown flag: --x", id="env-takes-no-flags"),
    case("FROM scratch\nEXPOSE 80:8080-8081", "invalid ranges specified for container and host Ports: 8080-8081 "
                                               "and 80", id="expose-range-mismatch"),
    case("FROM scratch\nEXPOSE nohost:80", "invalid hostPort: nohost", id="expose-bad-host-port"),
    case("FROM scratch\nEXPOSE 1.2.3:80:80", "invalid IP address: 1.2.3", id="expose-bad-ip"),
    case("FROM scratch\nEXPOSE /tcp", 'invalid port: "/tcp": no port specified', id="expose-no-port"),
    case("FROM scratch\nCOPY --from x /", f"{P} 2: missing a value on flag: --from", id="flag-without-value"),
    case("FROM scratch\nCOPY --from=a --from=b x /", f"{P} 2: duplicate flag specified: --from",
         id="duplicate-flag"),
    case("FROM scratch\nCOPY --link=maybe a /", f"{P} 2: expecting boolean value for flag --link, not: maybe",
         id="bad-bool-flag"),
    case("FROM scratch\nCOPY --link= a /", f"{P} 2: missing a value on flag: --link", id="empty-bool-flag"),
    case("FROM scratch\nCOPY onlyone", f"{P} 2: COPY requires at least two arguments, but only one was provided. "
                                       "Destination could not be determined", id="copy-one-arg"),
    case("FROM scratch\nADD", f"{P} 2: ADD requires at least two arguments, but only one was provided. "
                              "Destination could not be determined", id="add-no-args"),
    case("FROM scratch\nCOPY a <<EOF\nx\nEOF", f"{P} 2: COPY cannot accept a heredoc as a destination",
         id="heredoc-destination"),
    case("FROM scratch\nENV", f"{P} 2: ENV requires at least one argument", id="env-empty"),
    case("FROM scratch\nENV =x", f"{P} 2: ENV names can not be blank", id="env-blank-name"),
    case("FROM scratch\nLABEL =x", f"{P} 2: LABEL names can not be blank", id="label-blank-name"),
    case("FROM scratch\nENV A", "ENV must have two arguments", id="env-one-word"),
    case("FROM scratch\nLABEL a=1 b", "Syntax error - can't find = in \"b\". Must be of the form: name=value",
         id="label-missing-equals"),
    case("FROM scratch\nARG", f"{P} 2: ARG requires at least one argument", id="arg-empty"),
    case("FROM scratch\nARG =1", f"{P} 2: ARG names can not be blank", id="arg-blank-name"),
    case("FROM scratch\nWORKDIR", f"{P} 2: WORKDIR requires exactly one argument", id="workdir-empty"),
    case("FROM scratch\nUSER", f"{P} 2: USER requires exactly one argument", id="user-empty"),
    case("FROM scratch\nSTOPSIGNAL", f"{P} 2: STOPSIGNAL requires exactly one argument", id="stopsignal-empty"),
    case("FROM scratch\nMAINTAINER", f"{P} 2: MAINTAINER requires exactly one argument", id="maintainer-empty"),
    case("FROM scratch\nEXPOSE", f"{P} 2: EXPOSE requires at least one argument", id="expose-empty"),
    case("FROM scratch\nVOLUME", f"{P} 2: VOLUME requires at least one argument", id="volume-empty"),
    case('FROM scratch\nVOLUME ["/a", " "]', f"{P} 2: VOLUME specified can not be an empty string",
         id="volume-blank"),
    case("FROM scratch\nSHELL /bin/bash -c", f"{P} 2: SHELL requires the arguments to be in JSON form",
         id="shell-not-json"),
    case("FROM scratch\nSHELL []", f"{P} 2: SHELL requires at least one argument", id="shell-empty-json"),
    case('FROM scratch\nSHELL ["/bin/sh", 1]',
         "when using JSON array syntax, arrays must be comprised of strings only", id="json-not-strings"),
    case("FROM scratch\nHEALTHCHECK", f"{P} 2: HEALTHCHECK requires at least one argument", id="health-empty"),
    case("FROM scratch\nHEALTHCHECK NONE x", f"{P} 2: HEALTHCHECK NONE takes no arguments", id="health-none-args"),
    case("FROM scratch\nHEALTHCHECK CMD", f"{P} 2: Missing command after HEALTHCHECK CMD", id="health-no-cmd"),
    case("FROM scratch\nHEALTHCHECK RUN x", f'{P} 2: Unknown type "RUN" in HEALTHCHECK (try CMD)',
         id="health-bad-type"),
    case("FROM scratch\nHEALTHCHECK --interval=5 CMD x", f'{P} 2: time: missing unit in duration "5"',
         id="health-duration-unit"),
    case("FROM scratch\nHEALTHCHECK --timeout=soon CMD x", f'{P} 2: time: invalid duration "soon"',
         id="health-duration-text"),
    case("FROM scratch\nHEALTHCHECK --interval=10us CMD x", f'{P} 2: Interval "interval" cannot be less than 1ms',
         id="health-too-short"),
    case("FROM scratch\nHEALTHCHECK --retries=-1 CMD x", f"{P} 2: --retries cannot be negative (-1)",
         id="health-negative-retries"),
    case("FROM scratch\nHEALTHCHECK --retries=two CMD x",
         f'{P} 2: strconv.ParseInt: parsing "two": invalid syntax', id="health-retries-text"),
    case("FROM scratch\nHEALTHCHECK --start-periodd=1s CMD x",
         f"{P} 2: unknown flag: --start-periodd (did you mean start-period?)", id="health-flag-typo"),
    case("FROM scratch\nONBUILD", f"{P} 2: ONBUILD requires at least one argument", id="onbuild-empty"),
    case("FROM scratch\nONBUILD ONBUILD RUN x", f"{P} 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
         id="onbuild-chain"),
    case("FROM scratch\nONBUILD FROM alpine", f"{P} 2: FROM isn't allowed as an ONBUILD trigger",
         id="onbuild-from"),
    case("FROM scratch\nRUN --network=bridge x", f'{P} 2: invalid network mode "bridge"', id="run-network-bad"),
    case("FROM scratch\nRUN <<EOF\necho", "unterminated heredoc", id="unterminated-heredoc"),
    case("# escape=x\nFROM scratch", "invalid escape token 'x' does not match ` or \\", id="bad-escape"),
    case("# escape=`\n# escape=`\nFROM scratch", "only one escape parser directive can be used",
         id="repeated-directive"),
    case("FROM ${", "failed to process \"${\": syntax error: missing '}'", id="from-bad-expansion"),
    case("ARG X\nFROM $X", "base name ($X) should not be blank", id="from-blank"),
    case("FROM --platform=$P alpine", "empty platform value from expression $P", id="platform-blank"),
    case("ARG A=${B\nFROM scratch", "failed to process \"${B\": unsupported modifier (\ufffd) in substitution",
         id="global-arg-bad-expansion"),
    case("FROM scratch\nENV A=\"open", "failed to process \"\\\"open\": unexpected end of statement while "
                                      "looking for matching double-quote", id="env-bad-quote"),
    case("FROM scratch\nEXPOSE 80/http", 'invalid port: "80/http": invalid proto: http', id="expose-proto"),
    case("FROM scratch\nEXPOSE eighty", "invalid containerPort: eighty", id="expose-not-number"),
    case("FROM scratch\nEXPOSE 70000", "invalid containerPort: 70000", id="expose-out-of-range"),
    case("FROM scratch\nEXPOSE 9000-8000", "invalid containerPort: 9000-8000", id="expose-backwards-range"),
    case("FROM scratch\nSTOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE", id="bad-signal"),
    case("FROM scratch\nSTOPSIGNAL 0", "Invalid signal: 0", id="zero-signal"),
    case("FROM scratch\nENV V=\nVOLUME $V", "VOLUME specified can not be an empty string", id="volume-expands-empty"),
    case("FROM a AS x\nFROM b\nCOPY --from=$X / /", "variable expansion is not supported for --from, define a new "
                                                    "stage with FROM using ARG from global scope as a workaround",
         id="copy-from-variable"),
    case("FROM a\nCOPY --from=3 / /", "invalid stage index 3", id="copy-from-bad-index"),
    case("FROM a AS x\nCOPY --from=x / /", "circular dependency detected on stage: x", id="copy-from-self"),
    case("FROM a AS x\nCOPY --from=y / /\nFROM b AS y\nCOPY --from=x / /",
         "circular dependency detected on stage: x", id="copy-cycle"),
])
def test_errors(text: str, message: str) -> None:
    assert error_of(text) == message


@pytest.mark.parametrize(("target", "message"), [
    case("nope", 'target stage "nope" could not be found', id="no-hint"),
    case("bild", 'target stage "bild" could not be found (did you mean build?)', id="with-hint"),
])
def test_target_errors(target: str, message: str) -> None:
    assert error_of("FROM a AS build\nFROM b AS final", target=target) == message


def test_copy_from_a_later_stage() -> None:
    text = "FROM a AS first\nCOPY --from=Later / /\nFROM b AS later"
    assert error_of(text, target="first") == ('cannot copy from stage "Later", it needs to be defined before '
                                              'current stage "first"')
    assert [s.needed for s in parse_dockerfile(text).stages] == [False, True]  # not built: no error


def test_error_carries_lines() -> None:
    with pytest.raises(DockerfileError) as err:
        parse_dockerfile("FROM scratch\nRUN ok\nCOPY \\\n  one")
    assert (err.value.line, err.value.end_line, err.value.message) == (
        3, 4, "COPY requires at least two arguments, but only one was provided. Destination could not be determined")


def test_first_error_wins_in_docker_order() -> None:
    # the lexical pass runs over the whole file before instructions are checked
    assert error_of("FROM scratch\nFORM x\nRUN <<EOF\n") == "unterminated heredoc"
    # instruction errors come before expansion errors, even on later lines
    assert error_of("FROM scratch\nENV A=${\nFORM x") == f"{P} 3: unknown instruction: FORM (did you mean FROM?)"


def test_unknown_stage_in_copy_from_is_an_image() -> None:
    df = parse_dockerfile("FROM scratch\nCOPY --from=ghcr.io/x/y:1 /a /b")
    payload = df.stages[0].instructions[0].payload
    assert isinstance(payload, Copy) and payload.from_index is None


def test_result_types() -> None:
    df = parse_dockerfile("FROM scratch AS s\nRUN x")
    assert isinstance(df, Dockerfile)
    assert (df.target.name, df.target.index, df.target.line, df.target.original) == ("s", 0, 1, "FROM scratch AS s")


# --- ONBUILD triggers of the base ------------------------------------------------------------------------------


def test_image_triggers_run_first_with_the_stage_state() -> None:
    df = parse_dockerfile("FROM node:20\nRUN npm test", image_env={"node:20": {"APP": "/app"}},
                          image_onbuild={"node:20": ["COPY . $APP", "RUN npm ci"], "other": ["RUN no"]})
    assert [(i.line, i.keyword, i.trigger, i.payload) for i in df.stages[0].instructions][:2] == [
        (1, "COPY", True, Copy((".",), "/app")),
        (1, "RUN", True, Run(("npm ci",), True, env={"APP": "/app"})),
    ]
    assert [i.trigger for i in df.stages[0].instructions] == [True, True, False]


def test_base_stage_onbuild_lines_are_triggers_of_the_next_stage() -> None:
    df = parse_dockerfile("FROM alpine AS base\nONBUILD RUN echo hi\nFROM base\nRUN x\nFROM base AS again")
    first = df.stages[1].instructions[0]
    assert (first.trigger, first.line, first.payload) == (True, 3, Run(("echo hi",), True))
    assert [i.original for i in df.stages[2].instructions] == ["RUN echo hi"]


def test_trigger_heredoc_and_dependency() -> None:
    df = parse_dockerfile("FROM a AS deps\nFROM img\nRUN y",
                          image_onbuild={"img": ["COPY --from=deps /x /x", "RUN <<EOF\necho hi\nEOF"]})
    copy, run, _ = [i.payload for i in df.stages[1].instructions]
    assert isinstance(copy, Copy) and copy.from_index == 0
    assert run == Run(("echo hi\n",), True, heredocs=(Heredoc("EOF", "echo hi\n"),))
    assert df.stages[1].depends_on == (0,)


@pytest.mark.parametrize(("trigger", "message"), [
    case("FORM x", "unknown instruction: FORM (did you mean FROM?)", id="unknown"),
    case("RUN a\nRUN b", "onbuild trigger should be a single expression", id="two-expressions"),
    case("FROM x", "FROM isn't allowed as an ONBUILD trigger", id="from"),
])
def test_trigger_errors(trigger: str, message: str) -> None:
    with pytest.raises(DockerfileError) as err:
        parse_dockerfile("FROM scratch\n\nFROM img", image_onbuild={"img": [trigger]})
    assert (str(err.value), err.value.line) == (message, 3)
