"""A QEMU command line as people keep it, split into argv words.

Accepts one line, one argument per line (a line that is a bare JSON object, as
`tr '\\0' '\\n' < /proc/PID/cmdline` gives, is one word), `\\` continuations, `#` comment lines,
leading `VAR=value` words, NUL-separated argv (`/proc/PID/cmdline`), and a libvirt
`/var/log/libvirt/qemu/<vm>.log` (the last command after a `starting up` header; its
`qemu version:` is kept).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from pcie_failover.model.address import InputError

MAX_WORDS = 20_000
_LOG_HEADER = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+[+-]\d{4}: (.*)$")
_LOG_QEMU_VERSION = re.compile(r"qemu version: (\d+\.\d+(?:\.\d+)?)")
_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_BINARY = re.compile(r"(?:.*/)?(?:qemu-system-[a-z0-9_]+|qemu-kvm|kvm)")


_MESSAGE_LIMIT = 300


def is_qemu_binary(word: str) -> bool:
    """A QEMU system emulator's path (qemu-system-*, qemu-kvm, kvm)."""
    return _BINARY.fullmatch(word) is not None


class ConfigError(InputError):
    """The configuration cannot be parsed; the message is one line (control characters escaped, bounded)."""

    def __init__(self, message: str) -> None:
        shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)
        super().__init__(shown if len(shown) <= _MESSAGE_LIMIT else shown[: _MESSAGE_LIMIT - 3] + "...")


@dataclass(frozen=True)
class CommandLine:
    """The words after the binary; `binary` is None for a fragment; `qemu_version` from a libvirt log."""

    binary: str | None
    words: tuple[str, ...]
    qemu_version: str | None


def _from_log(lines: list[str]) -> tuple[list[str], str | None]:
    """The last command in a libvirt log (lines after the last `starting up` header)."""
    starts = [i for i, line in enumerate(lines) if (m := _LOG_HEADER.match(line)) and "starting up" in m[1]]
    if not starts:
        return lines, None
    version = _LOG_QEMU_VERSION.search(lines[starts[-1]])
    command: list[str] = []
    for line in lines[starts[-1] + 1 :]:
        if _LOG_HEADER.match(line):
            break
        command.append(line)
        if not line.rstrip().endswith("\\"):
            break
    return command, version[1] if version else None


def _shell_words(text: str, words: list[str]) -> None:
    """Append the shell words of `text` to `words`, at most MAX_WORDS in all."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        for word in lexer:
            words.append(word)
            if len(words) > MAX_WORDS:
                raise ConfigError(f"the QEMU command line has more than {MAX_WORDS} words")
    except ValueError as error:
        raise ConfigError(f"the QEMU command line cannot be split into words: {error}") from None


def _text_words(text: str) -> tuple[list[str], str | None]:
    """Shell words of the text layouts; a line that is a bare `{...}` is one word, kept as written."""
    lines, version = _from_log(text.splitlines())
    kept = [line for line in lines if not line.lstrip().startswith("#")]
    words: list[str] = []
    block: list[str] = []
    for line in "\n".join(kept).replace("\\\n", " ").split("\n"):
        bare = line.strip()
        if bare.startswith("{") and bare.endswith("}"):
            _shell_words("\n".join(block), words)
            block = []
            words.append(bare)
        else:
            block.append(line)
    _shell_words("\n".join(block), words)
    return words, version


def _argv_words(text: str) -> list[str]:
    """NUL-separated argv, as /proc/PID/cmdline holds it (a trailing NUL ends the last word)."""
    words = text.removesuffix("\0").split("\0")
    if len(words) > MAX_WORDS:
        raise ConfigError(f"the QEMU command line has more than {MAX_WORDS} words")
    return words


def split_command(text: str) -> CommandLine:
    """Split `text` into words; raise ConfigError when it is not a command line."""
    words, version = (_argv_words(text), None) if "\0" in text else _text_words(text)
    while words and _ENV_WORD.fullmatch(words[0]):
        words.pop(0)
    binary = words.pop(0) if words and _BINARY.fullmatch(words[0]) else None
    if not words:
        raise ConfigError("the QEMU command line has no options")
    return CommandLine(binary, tuple(words), version)
