"""The typer app, the registry of its commands (COMMANDS), its global options, and how every command reports
errors and exits."""

from __future__ import annotations

import enum
import importlib
import itertools
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer._click import Command as ClickCommand
from typer._click import Context, Parameter  # typer 0.27-0.28 vendor click
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer._click.globals import get_current_context
from typer._types import TyperChoice
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from pcie_failover.adapters.unpack import ArchiveError, remove_unpacked
from pcie_failover.model.results import ExitCode
from pcie_failover.render.escape import escape
from pcie_failover.sysfs.host import NoHostError, open_root
from pcie_failover.sysfs.root import LIVE_SYSFS, SysfsRoot

INTERNAL_EXIT_CODE = "70 internal error (a bug: one line names it)"
EXIT_CODES = f"""Exit codes: 0 ready; 1 not ready (a check failed, no such device included, or with
--strict warned); 2 usage error or malformed input; 3 the host cannot be inspected (no PCI tree at
the sysfs root); 4 undetermined (nothing failed, but a check that could fail is unknown);
{INTERNAL_EXIT_CODE}."""

PROG = "pcie-failover"
# The one registry of commands: each name, in `--help` order, and the module that defines it (in its own
# `commands`, a typer.Typer). A run imports only the module of the command it runs; --help, --help-all
# and shell completion, which list every command, import them all.
COMMANDS: dict[str, str] = {
    "check": "pcie_failover.check.cli",
    "list": "pcie_failover.listing.cli",
    "capture": "pcie_failover.capture.cli",
    "pair": "pcie_failover.pair.cli",
    "lint": "pcie_failover.lint.cli",
    "inspect": "pcie_failover.inspect.cli",
    "prepare": "pcie_failover.prepare.cli",
    "register": "pcie_failover.audit.cli",
    "unregister": "pcie_failover.audit.cli",
    "audit": "pcie_failover.audit.cli",
    "watch": "pcie_failover.audit.cli",
    "rules": "pcie_failover.ledger.cli",
    "install-units": "pcie_failover.audit.units_cli",
}
COMPLETE_VAR = "_PCIE_FAILOVER_COMPLETE"  # click's shell completion protocol: `_<PROG>_COMPLETE=complete_bash`
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")  # what typer's completion scripts exist for
COMPLETION_OPTIONS = ("--show-completion", "--install-completion")
SYSFS_ROOT_HELP = (
    "A directory laid out like /sys, a capture's directory (holding sysfs/) or a capture's .tar.gz "
    "(unpacked into a private temporary directory, removed at exit; an unsafe or malformed archive is exit 2). "
    "Every read goes through it."
)
QUIET_HELP = (
    "Print no report, only the exit code; an error is still one line on standard error "
    "(also under --format json: no JSON error document)."
)


class OutputFormat(enum.Enum):
    """How results are printed."""

    TABLE = "table"
    JSON = "json"


def _keep_words_whole() -> None:
    """Help text never cut inside a word: click's wrapper breaks at hyphens (`qemu-` / `monitor-command`,
    `/etc/pcie-` / `failover`) and cuts long words (`P` / `CIE_FAILOVER_STATE_D`); wrap_text() looks its
    TextWrapper up when help is wrapped."""
    try:
        module: Any = importlib.import_module("typer._click._textwrap")  # typer >= 0.28 vendors click
    except ModuleNotFoundError:  # pragma: no cover - an older typer on click
        module = importlib.import_module("click._textwrap")
    base = module.TextWrapper
    if getattr(base, "whole_words", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("break_on_hyphens", False)
        kwargs.setdefault("break_long_words", False)
        base.__init__(self, *args, **kwargs)

    # click's own _handle_long_word cuts a word longer than the line whatever break_long_words says; the
    # standard library's puts it on a line of its own (which then overflows) when break_long_words is off
    standard = textwrap.TextWrapper._handle_long_word
    module.TextWrapper = type(
        "WholeWords", (base,), {"__init__": init, "_handle_long_word": standard, "whole_words": True}
    )


_keep_words_whole()


class _Registered(MutableMapping[str, ClickCommand]):
    """The group's commands: every name in COMMANDS, each built (its module imported) when first looked up."""

    def __init__(self) -> None:
        self.built: dict[str, ClickCommand] = {}

    def __getitem__(self, name: str) -> ClickCommand:
        if name not in self.built:
            if name not in COMMANDS:
                raise KeyError(name)
            self.built[name] = _load(name)
        return self.built[name]

    def __setitem__(self, name: str, command: ClickCommand) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("a command leaves the registry (COMMANDS), not the group")

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class Commands(TyperGroup):
    """The program's group: its commands are COMMANDS, in that order, loaded as they are looked up."""

    def __init__(self, *args: Any, **settings: Any) -> None:
        super().__init__(*args, **settings)
        self.commands = _Registered()

    def list_commands(self, ctx: Context) -> list[str]:  # noqa: ARG002 (click's signature)
        return list(COMMANDS)  # without importing any (typer's would build each command)


app = typer.Typer(
    name=PROG,
    cls=Commands,
    help="Preflight checks for QEMU virtio-net failover primaries (SR-IOV VFs on vfio-pci).",
    add_completion=False,  # its own --show-completion/--install-completion below: a shell may be named
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class GlobalOptions:
    """One run's global options, kept in its root context's `obj` (`global_options()`): set by the group's callback,
    then by the same options given after the command (which win)."""

    sysfs_root: str = LIVE_SYSFS
    root_after_command: bool = False  # the --sysfs-root in effect was given after the command
    quiet: bool = False


def _options_of(ctx: Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):  # a group run without main()'s (tests, completion)
        root.obj = GlobalOptions()
    return root.obj


def global_options() -> GlobalOptions:
    """The global options of the command running (its context's), else the defaults."""
    ctx = get_current_context(silent=True)
    return GlobalOptions() if ctx is None else _options_of(ctx)


def _print_version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:  # resilient: a completion request, which prints completions only
        from pcie_failover import __version__
        from pcie_failover.model.report import SCHEMA_VERSION

        emit(f"pcie-failover {__version__} (JSON schema {SCHEMA_VERSION})\n")
        raise typer.Exit(int(ExitCode.READY))


def _print_help_all(ctx: typer.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    group = ctx.command
    assert isinstance(group, TyperGroup)
    texts = [group.get_help(ctx)]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None:
            texts.append(command.get_help(Context(command, info_name=name, parent=ctx)))
    emit("\n\n".join(texts) + "\n")
    raise typer.Exit(int(ExitCode.READY))


def _completion_shell(value: str) -> str:
    """The shell named, else the one this runs in (typer's detection), else the login shell ($SHELL)."""
    names = ", ".join(SHELLS)
    if value:
        if value not in SHELLS:
            raise typer.BadParameter(f"{value!r} is not one of {names}")
        return value
    from typer._completion_shared import _get_shell_name

    found = (_get_shell_name() or "none", os.path.basename(os.environ.get("SHELL", "")) or "none")
    shell = next((name for name in found if name in SHELLS), None)
    if shell is None:
        raise typer.BadParameter(
            f"no shell to complete for (this one: {found[0]}, login: {found[1]}): name one of {names}"
        )
    return shell


def _show_completion(ctx: typer.Context, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    from typer._completion_shared import get_completion_script

    emit(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=_completion_shell(value)) + "\n")
    raise typer.Exit(int(ExitCode.READY))


def _install_completion(ctx: typer.Context, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    from typer._completion_shared import install

    shell = _completion_shell(value)
    try:
        _, path = install(shell=shell, prog_name=PROG, complete_var=COMPLETE_VAR)
    except OSError as error:
        sys.stderr.write(f"{PROG}: cannot install the {shell} completion: {escape(str(error))}\n")
        raise typer.Exit(int(ExitCode.USAGE)) from None
    emit(f"{shell} completion installed in {escape(str(path))}; it takes effect in a new shell\n")
    raise typer.Exit(int(ExitCode.READY))


@app.callback()
def take_global_options(
    ctx: typer.Context,
    sysfs_root: Annotated[
        str,
        typer.Option(
            "--sysfs-root",
            envvar="PCIE_FAILOVER_SYSFS_ROOT",
            help=f"{SYSFS_ROOT_HELP} Also accepted after the command.",
            metavar="PATH",
        ),
    ] = LIVE_SYSFS,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help=f"{QUIET_HELP} Also accepted after the command.")
    ] = False,
    version: Annotated[  # noqa: ARG001 (handled eagerly by its callback)
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the tool's version and its JSON schema version, then exit.",
        ),
    ] = False,
    help_all: Annotated[  # noqa: ARG001 (handled eagerly by its callback)
        bool,
        typer.Option(
            "--help-all", is_eager=True, callback=_print_help_all, help="Print every command's help, then exit."
        ),
    ] = False,
    show_completion: Annotated[  # noqa: ARG001 (handled eagerly by its callback)
        str | None,
        typer.Option(
            "--show-completion",
            is_eager=True,
            callback=_show_completion,
            metavar="[SHELL]",
            help=f"Print the completion script for SHELL ({', '.join(SHELLS)}; default: this shell), then exit.",
        ),
    ] = None,
    install_completion: Annotated[  # noqa: ARG001 (handled eagerly by its callback)
        str | None,
        typer.Option(
            "--install-completion",
            is_eager=True,
            callback=_install_completion,
            metavar="[SHELL]",
            help="Install the completion script for SHELL (default: this shell) in its start-up files, then exit.",
        ),
    ] = None,
) -> None:
    given = _options_of(ctx)
    given.sysfs_root = sysfs_root
    given.quiet = quiet


def _set_root(ctx: Context, _param: Parameter, value: str | None) -> None:
    if value is not None:
        given = _options_of(ctx)
        given.sysfs_root = value
        given.root_after_command = True


def _set_quiet(ctx: Context, _param: Parameter, value: bool) -> None:
    if value:
        _options_of(ctx).quiet = True


def _conventional_metavar(param: Parameter) -> None:
    """As click's and man pages' conventions have it: `DEVICE`, `[qemu|libvirt]`, `--standby-id STANDBY_ID`."""
    if param.metavar is not None:
        return
    if isinstance(param, TyperArgument):
        param.metavar = (param.name or "").upper() + ("..." if param.nargs != 1 else "")
    elif isinstance(param, TyperOption) and not param.is_flag:
        if isinstance(param.type, TyperChoice):
            choices = (str(c.value) if isinstance(c, enum.Enum) else str(c) for c in param.type.choices)
            param.metavar = f"[{'|'.join(choices)}]"
        else:
            param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()


class Command(TyperCommand):
    """Every command: conventional metavars in its usage and help, and the global options accepted after it."""

    def __init__(self, name: str | None, **settings: Any) -> None:
        super().__init__(name, **settings)
        for param in self.params:
            _conventional_metavar(param)
        self.params += [
            TyperOption(
                param_decls=["sysfs_root", "--sysfs-root"],
                metavar="PATH",
                expose_value=False,
                callback=_set_root,
                help="The global --sysfs-root, given after the command (it wins over one before it).",
            ),
            TyperOption(
                param_decls=["quiet", "-q", "--quiet"],
                is_flag=True,
                default=False,
                expose_value=False,
                callback=_set_quiet,
                help="The global -q: no report, only the exit code and one-line errors.",
            ),
        ]

    def invoke(self, ctx: Context) -> Any:
        """Run the command once its options (the global ones given after it included) are all known."""
        given = _options_of(ctx)
        if not given.sysfs_root:  # `--sysfs-root=` would read `/bus/pci/devices`: say what was typed
            where = ctx if given.root_after_command or ctx.parent is None else ctx.parent
            raise UsageError("--sysfs-root is empty", where)
        return super().invoke(ctx)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        """`[OPTIONS] DEVICE`, not typer's `{DEVICE}`: an argument is bracketed only when it is optional."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument) and param.metavar is not None:
                optional = not param.required and not param.metavar.startswith("[")
                pieces.append(f"[{param.metavar}]" if optional else param.metavar)
            else:
                pieces += param.get_usage_pieces(ctx)
        return pieces


def _load(name: str) -> Command:
    """Command `name`, a `Command` built from its typer function in its module's `commands` (COMMANDS)."""
    module = COMMANDS[name]
    commands = importlib.import_module(module).commands
    assert isinstance(commands, typer.Typer), f"{module}.commands is not a typer.Typer"
    for info in commands.registered_commands:
        if info.callback is not None and (info.name or typer.main.get_command_name(info.callback.__name__)) == name:
            if info.cls is None or info.cls is TyperCommand:  # typer's default
                info.cls = Command
            command = typer.main.get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode
            )
            assert isinstance(command, Command)
            return command
    raise LookupError(f"{module} defines no command {name!r} (COMMANDS)")


def build() -> Commands:
    """The click group of every registered command (COMMANDS), each a `Command` built when first looked up."""
    group = typer.main.get_command(app)
    assert isinstance(group, Commands)
    return group


class OutputError(Exception):
    """Standard output could not take the report (full, closed, an I/O error): not a bug, not a finding."""


class ReaderGone(Exception):  # noqa: N818 (not an error: what SIGPIPE would have done)
    """Standard output's reader went away (EPIPE, where SIGPIPE is ignored: `watch`): exit 141 like the others.

    Not an OSError, so that no handler of file errors (an unsafe directory is exit 2) nor click's own
    EPIPE handling (exit 1) takes it for something else on its way to `main`.
    """


def emit(text: str, given: GlobalOptions | None = None) -> None:
    """Print a rendered report (nothing under --quiet); OutputError when standard output cannot take it.

    `given`: the run's global options, when no command is running any more (main's error reports)."""
    if (given or global_options()).quiet:
        return
    if sys.stdout is None:
        raise OutputError("standard output is closed")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise ReaderGone from None
    except (OSError, ValueError) as error:  # ValueError: write to a closed file
        raise OutputError(str(error)) from None


def note(command: str, text: str) -> None:
    """One informational line on standard error, escaped (nothing under --quiet: errors still print)."""
    if not global_options().quiet:
        sys.stderr.write(f"{PROG} {command}: {escape(text)}\n")


# Where an InputError raised while it is being reported comes from, when that is what was typed: the
# options and arguments themselves (their syntax, their combinations), not a file, a device or a process:
# every command's typer module (COMMANDS, wherever its feature keeps it) and these.
ARGUMENT_PARSERS = (
    "pcie_failover.cli.",
    "pcie_failover.model.address",
    "pcie_failover.pair.ids",
    "pcie_failover.pair.ports",
    "pcie_failover.pair.model",
    "pcie_failover.lint.parse",
)


def _mistyped() -> bool:
    """Whether the exception being handled is an InputError raised by an argument parser (ARGUMENT_PARSERS,
    COMMANDS)."""
    from pcie_failover.model.address import InputError

    error = sys.exc_info()[1]
    if not isinstance(error, InputError) or error.__traceback__ is None:
        return False
    frame = error.__traceback__
    while frame.tb_next is not None:
        frame = frame.tb_next
    module = str(frame.tb_frame.f_globals.get("__name__", ""))
    parsers = (*ARGUMENT_PARSERS, *COMMANDS.values())
    return any(module == parser.rstrip(".") or module.startswith(parser) for parser in parsers)


def fail(
    command: str,
    output: OutputFormat,
    code: ExitCode,
    kind: str,
    message: str,
    hint: bool | None = None,
    given: GlobalOptions | None = None,
) -> int:
    """Report an error as one line, escaped (or a JSON error document), and return its exit code.

    A usage error's line ends, as a parser error's does, with `(try 'pcie-failover COMMAND --help')`:
    `hint` says whether it is one; by default every error of kind `usage`, and an `input` error raised
    by an argument parser (a malformed address or MAC, options that do not go together: `_mistyped`),
    never one about the host, a file or a device that does not exist, which --help cannot answer.
    A JSON error document is unchanged (its `message` carries no hint). `given`: as for `emit`.
    """
    given = given or global_options()
    if output is OutputFormat.JSON and not given.quiet:
        from pcie_failover.render.json_doc import render_error

        root = os.path.abspath(given.sysfs_root) if given.sysfs_root else given.sysfs_root
        emit(render_error(command, root, int(code), kind, message), given)
    else:
        prefix = "pcie-failover" if command == "pcie-failover" else f"pcie-failover {command}"
        if hint if hint is not None else kind == "usage" or (kind == "input" and _mistyped()):
            message = f"{message.rstrip('.')} (try '{prefix} --help')"
        sys.stderr.write(f"{prefix}: {escape(message)}\n")
    return int(code)


def guarded(command: str, output: OutputFormat, body: Callable[[SysfsRoot], int]) -> int:
    """Open the root and run `body`; input and host errors become one line and an exit code."""
    try:
        root = open_root(global_options().sysfs_root)
    except NoHostError as error:
        return fail(command, output, ExitCode.NO_HOST, "no-host", str(error))
    return body(root)


FOR_OPTION = typer.Option("--for", help="Who binds vfio-pci and sets the MAC: qemu (you) or libvirt (managed='yes').")
FORMAT_OPTION = typer.Option("--format", help="table or json.")
REGISTRY_OPTION = typer.Option(
    "--registry", envvar="PCIE_FAILOVER_REGISTRY", help="Directory of registered pairs.", metavar="DIR"
)


def _wants_json(args: Sequence[str]) -> bool:
    return "--format=json" in args or any(a == "--format" and b == "json" for a, b in itertools.pairwise(args))


def _wants_quiet(args: Sequence[str]) -> bool:
    """For a usage error, which comes before the options are known: -q or --quiet before any `--`."""
    options = args[: args.index("--")] if "--" in args else args
    return "-q" in options or "--quiet" in options


def _shell_optional(args: list[str]) -> list[str]:
    """`--show-completion`/`--install-completion` followed by no shell name: the empty name (this shell)."""
    given = list(args)
    for i, arg in enumerate(given):
        if arg in COMMANDS or arg == "--":
            break
        if arg in COMPLETION_OPTIONS and (i + 1 == len(given) or given[i + 1].startswith("-")):
            given[i] = f"{arg}="
    return given


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt, so every `finally` and cleanup runs."""


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def _die_of_sigpipe(_signum: int, _frame: object) -> None:
    """Standard output's reader went away: remove the private copies of capture archives, then end as lspci does."""
    remove_unpacked()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the app without click's standalone error handling; SIGTERM unwinds (cleanup runs)."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in args if a in COMMANDS), "pcie-failover")
    output = OutputFormat.JSON if _wants_json(args) else OutputFormat.TABLE
    previous = signal.signal(signal.SIGTERM, _terminate)
    # A reader of standard output that goes away ends the run as it ends lspci or grep: SIGPIPE, 141 in
    # the shell, never a code that reads as a finding; once the private copy of a capture archive is gone.
    # Not for `watch`, whose journal stream may reconnect.
    pipe = signal.signal(signal.SIGPIPE, _die_of_sigpipe if name != "watch" else signal.SIG_IGN)
    try:
        return _run(_shell_optional(args), name, output)
    except Terminated:
        return int(ExitCode.TERMINATED)
    except OutputError as error:  # also when an error report itself cannot be written
        prefix = "pcie-failover" if name == "pcie-failover" else f"pcie-failover {name}"
        sys.stderr.write(f"{prefix}: cannot write the report: {escape(str(error))}\n")
        return int(ExitCode.OUTPUT_ERROR)
    finally:
        # The private copies of capture archives go on every exit; a second signal cannot cut that short.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        remove_unpacked()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGPIPE, pipe)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _complete(command: TyperGroup, instruction: str) -> int:
    """Answer a shell's completion request (`_PCIE_FAILOVER_COMPLETE=complete_bash`, ...) with typer's classes."""
    from typer._completion_classes import completion_init
    from typer.completion import shell_complete

    completion_init()
    return shell_complete(command, {}, PROG, COMPLETE_VAR, instruction)


def _run(args: list[str], name: str, output: OutputFormat) -> int:
    given = GlobalOptions()  # this run's: the root context's obj, and still here for the errors below
    command = build()
    instruction = os.environ.get(COMPLETE_VAR)
    try:
        if instruction:
            return _complete(command, instruction)
        result = command.main(args=args, prog_name=PROG, standalone_mode=False, obj=given)
    except NoArgsIsHelpError as error:
        sys.stderr.write(error.format_message() + "\n")
        return int(ExitCode.USAGE)
    except ClickException as error:
        # still one line: where to look next goes at its end (click would print a second one); an error
        # in what comes before the command (a global option) is the program's, whatever command follows
        context = getattr(error, "ctx", None)
        blamed = "pcie-failover" if context is not None and context.parent is None else name
        given.quiet = given.quiet or _wants_quiet(args)
        command_name = name if output is OutputFormat.JSON else blamed
        return fail(command_name, output, ExitCode.USAGE, "usage", error.format_message(), given=given)
    except ArchiveError as error:  # --sysfs-root named an archive that cannot be used
        return fail(name, output, ExitCode.USAGE, "input", str(error), given=given)
    except (typer.Abort, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    except (BrokenPipeError, ReaderGone):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.BROKEN_PIPE)

    except OutputError:
        raise
    except Exception as error:  # a bug must not exit 1 ("not ready"), which the audit unit counts as success
        message = f"internal error: {type(error).__name__}: {error}"
        return fail(name, output, ExitCode.INTERNAL, "internal", message, given=given)
    return result if isinstance(result, int) else 0
