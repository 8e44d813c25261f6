"""The project commands: `init` (a first project from a JSONL file), `pin` (update data pins
after an intended change) and `check` (validate everything without loading a model).
`evalgate.cli.main` registers them with `register(commands)`."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

EXIT_PASS, EXIT_CONFIG = 0, 2


def _consoles():
    from evalgate.cli.main import console, err_console

    return console, err_console


def _rel(path: Path, root: Path | None = None) -> str:
    base = (root or Path.cwd()).resolve()
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return str(path)


def _token_counter(model: str):
    """Count reference tokens with the model's own tokenizer when it can be had offline;
    None (a character estimate is used) otherwise."""
    try:
        from transformers import AutoTokenizer

        from evalgate.models.resolve import default_cache_dir, resolve_model
        from evalgate.util.progress import make_progress

        with make_progress() as progress:
            resolved = resolve_model(model, default_cache_dir(), progress)
        tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    except Exception:  # noqa: BLE001 - any failure falls back to the documented estimate
        return None, ""
    return (lambda texts: [len(tokenizer(t, add_special_tokens=False)["input_ids"])
                           for t in texts]), f"counted with the {model} tokenizer"


def cmd_init(args: argparse.Namespace) -> int:
    from rich.prompt import Confirm, Prompt

    from evalgate.errors import ConfigError
    from evalgate.project.scaffold import (
        InitOptions,
        infer_fields,
        plan_project,
        read_rows,
        write_project,
    )

    console, _ = _consoles()
    folder = Path(args.dir).resolve()
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.yes
    data = Path(args.data)
    name = args.name or re.sub(r"[^A-Za-z0-9_.-]+", "_", data.stem).strip("_.-") or "task"
    input_field, reference_field = args.input, args.reference
    heldout_fraction = args.heldout_fraction
    if interactive:
        rows = read_rows(data)
        guess = None
        try:
            guess = infer_fields(rows, data, input_field=input_field,
                                 reference_field=reference_field, id_field=args.id_field)
        except ConfigError:
            pass
        console.print(f"[bold]{data}[/]: {len(rows)} examples; fields: "
                      f"{', '.join(rows[0])}")
        name = Prompt.ask("project and suite name", default=name)
        input_field = Prompt.ask("input field (what the model reads)",
                                 default=guess.input if guess else None)
        reference_field = Prompt.ask("reference field (the right answer)",
                                     default=guess.reference if guess else None)
        if args.heldout is None:
            heldout_fraction = float(Prompt.ask("share kept as held-out test data",
                                                default=str(heldout_fraction)))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", name):
        raise ConfigError(f"'{name}' is not a usable name", key="--name",
                          fix="use letters, digits, '_', '-' or '.'")
    if not 0 < heldout_fraction < 1:
        raise ConfigError(f"--heldout-fraction {heldout_fraction} is not between 0 and 1",
                          key="--heldout-fraction", fix="use e.g. 0.25")
    options = InitOptions(data=data, folder=folder, name=name,
                          heldout=Path(args.heldout) if args.heldout else None,
                          heldout_fraction=heldout_fraction, input_field=input_field,
                          reference_field=reference_field, id_field=args.id_field,
                          model=args.model, method=args.method, force=args.force)
    plan_project(options)  # every input check before the tokenizer is fetched
    counter, counter_name = _token_counter(args.model) if not args.no_tokenizer else (None, "")
    plan = plan_project(options, counter, counter_name)
    if interactive and not Confirm.ask(f"write {len(plan.files)} files into {folder}?",
                                       default=True):
        console.print("nothing written")
        return EXIT_PASS
    written = write_project(plan, folder)
    fields = plan.fields
    table = Table(title=f"evalgate init → {folder}", title_justify="left", header_style="bold")
    table.add_column("file", no_wrap=True)
    table.add_column("what")
    about = {
        "evalgate.yaml": f"the project: model {args.model}, suite {name}, two baselines",
        "data/heldout.jsonl": f"{plan.n_heldout} held-out examples (judged, never trained on)",
        "data/train.jsonl": f"{plan.n_train} training examples (few-shot pool and training)",
        f"suites/{name}.yaml": (
            f"input {{{fields.input}}} · reference {fields.reference} · "
            + (f"JSON fields {', '.join(plan.json_keys)} + schema" if plan.json_keys
               else "exact match") + f" · max_new_tokens {plan.max_new_tokens}"),
        f"suites/schemas/{name}.schema.json": "JSON Schema inferred from the references",
        "baselines/prompt.yaml": "baseline: instructions only",
        "baselines/few_shot.yaml": "baseline: instructions + 4 nearest training examples",
        f"systems/{name}_adapter.yaml": "the prompt the adapter is trained and served with",
        f"training/{name}.yaml": f"{args.method} training config",
        ".gitignore": "adapters/, .evalgate/ and reports/ stay out of git",
    }
    for path in written:
        rel = _rel(path, folder)
        table.add_row(rel, about.get(rel, ""))
    console.print(table)
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    where = "" if folder == Path.cwd().resolve() else f"cd {_rel(folder)} && "
    console.print("\nnext:", highlight=False)
    for command, why in (("evalgate check", "validate everything (no model loaded)"),
                         ("evalgate baseline", "measure the cheap options first"),
                         ("evalgate run", "baseline → train → gate → promote")):
        console.print(f"  {where}{command:<18} [dim]# {why}[/]", highlight=False)
    return EXIT_PASS


def cmd_pin(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project
    from evalgate.project.pins import project_pins, update_pins

    console, _ = _consoles()
    project = load_project(args.project)
    pins = project_pins(project)
    changed = [] if args.dry_run else update_pins(pins)
    table = Table(title="data pins", title_justify="left", header_style="bold")
    for column in ("config", "key", "data", "rows", "pin"):
        table.add_column(column, no_wrap=column != "pin")
    for pin in pins:
        if not pin.changed:
            state = Text(f"unchanged {pin.actual[:12]}", style="dim")
        elif pin.pinned is None:
            state = Text(f"set to {pin.actual[:12]} (was not pinned)", style="yellow")
        else:
            state = Text(f"{pin.pinned[:12]} → {pin.actual[:12]} (the file changed)",
                         style="bold yellow")
        table.add_row(_rel(pin.config, project.root), pin.key, _rel(pin.data, project.root),
                      str(pin.rows), state)
    console.print(table)
    pending = [pin for pin in pins if pin.changed]
    if args.dry_run:
        console.print(f"{len(pending)} pin(s) would change; nothing written (--dry-run)")
        return EXIT_PASS if not pending else 1
    if changed:
        console.print(f"[bold]{len(changed)} pin(s) updated.[/] Results on the old data no "
                      "longer compare with new runs, and an adapter trained before this change "
                      "will be gated with its criteria flagged as changed.", highlight=False)
    else:
        console.print("every pin is up to date")
    return EXIT_PASS


def cmd_check(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project
    from evalgate.project.check import check_project

    console, err = _consoles()
    project = load_project(args.project)
    findings = check_project(project)
    table = Table(title=f"evalgate check: {_rel(project.path)}", title_justify="left",
                  header_style="bold")
    for column in ("file", "kind", "result"):
        table.add_column(column, no_wrap=column != "result")
    for finding in findings:
        result = (Text(finding.summary, style="green") if finding.ok
                  else Text(f"error: {finding.summary}", style="red") if finding.repeated
                  else Text("error (below)", style="bold red"))
        table.add_row(_rel(finding.path, project.root), finding.what, result)
    console.print(table)
    problems = [f for f in findings if not f.ok]
    for finding in (f for f in problems if f.error is not None):
        err.print("[bold red]error:[/] ", end="", highlight=False)
        err.print(str(finding.error), markup=False, highlight=False, soft_wrap=True)
    if problems:
        return EXIT_CONFIG
    console.print(f"[bold green]ok:[/] {len(findings)} files checked; no model was loaded")
    return EXIT_PASS


def register(commands) -> None:
    project_help = "evalgate.yaml (default: nearest one at or above this folder)"
    init = commands.add_parser(
        "init", help="write a first project (suite, baselines, training) from a JSONL file")
    init.add_argument("data", metavar="EXAMPLES.jsonl",
                      help="one example per line: an input field and a reference answer")
    init.add_argument("--dir", default=".", help="project folder (default: here)")
    init.add_argument("--name", default=None, help="project and suite name (default: the "
                                                   "file's name)")
    init.add_argument("--input", default=None, metavar="FIELD", help="the input field")
    init.add_argument("--reference", default=None, metavar="FIELD",
                      help="the reference field (an object or a JSON string of one gives "
                           "JSON-aware criteria and a schema)")
    init.add_argument("--id-field", default=None, metavar="FIELD",
                      help="the id field (default: `id` if present, else ids are written)")
    init.add_argument("--heldout", default=None, metavar="FILE",
                      help="held-out examples (default: split them off EXAMPLES.jsonl)")
    init.add_argument("--heldout-fraction", type=float, default=0.25,
                      help="share held out when no --heldout file is given (default 0.25)")
    init.add_argument("--model", default="smollm2-135m-instruct",
                      help="base model: alias, local folder or hub id")
    init.add_argument("--method", default="sft+dpo",
                      choices=["sft", "sft+dpo", "sft+kto", "dpo", "kto"])
    init.add_argument("--no-tokenizer", action="store_true",
                      help="estimate max_new_tokens from characters instead of the tokenizer")
    init.add_argument("-y", "--yes", action="store_true",
                      help="never ask (the default when no terminal is attached)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(handler=cmd_init)

    pin = commands.add_parser(
        "pin", help="update data pins (sha256) after an intended change, and say what changed")
    pin.add_argument("--dry-run", action="store_true",
                     help="only show what would change (exit 1 if a pin is out of date)")
    pin.add_argument("--project", type=Path, default=None, metavar="FILE", help=project_help)
    pin.set_defaults(handler=cmd_pin)

    check = commands.add_parser(
        "check", help="validate every file, key, path, pin, template field and reference "
                      "without loading a model")
    check.add_argument("--project", type=Path, default=None, metavar="FILE", help=project_help)
    check.set_defaults(handler=cmd_check)
