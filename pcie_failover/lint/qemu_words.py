"""A QEMU command line as people keep it, split into argv words.

Accepts one line, one argument per line, `\\` continuations, `#` comment lines, leading
`VAR=value` words, and a libvirt `/var/log/libvirt/qemu/<vm>.log` (the last command after
a `starting up` header; its `qemu version:` is kept).
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


class ConfigError(InputError):
    """The configuration cannot be parsed; the message is one line (control characters escaped, bounded)."""

    def __init__(self, message: str) -> None:
        printable = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)
        super().__init__(printable if len(printable) <= _MESSAGE_LIMIT else printable[: _MESSAGE_LIMIT - 3] + "...")


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


def split_command(text: str) -> CommandLine:
    """Split `text` into words; raise ConfigError when it is not a command line."""
    if "\0" in text:
        raise ConfigError("the QEMU command line contains a NUL byte")
    lines, version = _from_log(text.splitlines())
    kept = [line for line in lines if not line.lstrip().startswith("#")]
    joined = "\n".join(kept).replace("\\\n", " ")
    lexer = shlex.shlex(joined, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        for word in lexer:
            words.append(word)
            if len(words) > MAX_WORDS:
                raise ConfigError(f"the QEMU command line has more than {MAX_WORDS} words")
    except ValueError as error:
        raise ConfigError(f"the QEMU command line cannot be split into words: {error}") from None
    while words and _ENV_WORD.fullmatch(words[0]):
        words.pop(0)
    binary = words.pop(0) if words and _BINARY.fullmatch(words[0]) else None
    if not words:
        raise ConfigError("the QEMU command line has no options")
    return CommandLine(binary, tuple(words), version)
