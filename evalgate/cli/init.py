"""`evalgate init EXAMPLES.jsonl`: a first project (suite, baselines, training) from one file
of examples (JSON lines, a JSON array, or CSV/TSV); interactive where a terminal is attached,
flags otherwise."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rich.table import Table

from evalgate.cli.output import EXIT_PASS, console, shown
from evalgate.util.paths import display_path


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


def run(args: argparse.Namespace) -> int:
    from rich.prompt import Confirm, Prompt

    from evalgate.errors import ConfigError
    from evalgate.project.examples import read_examples
    from evalgate.project.scaffold import (
        InitOptions,
        infer_fields,
        plan_project,
        write_project,
    )

    folder = Path(args.dir).resolve()
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.yes
    data = Path(args.data)
    name = args.name or re.sub(r"[^A-Za-z0-9_.-]+", "_", data.stem).strip("_.-") or "task"
    input_field, reference_field = args.input, args.reference
    heldout_fraction = args.heldout_fraction
    if interactive:
        rows = list(read_examples(data).rows)  # how a CSV was read: a note after the plan
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
        rel = display_path(path, folder)
        table.add_row(rel, about.get(rel, ""))
    console.print(table)
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    where = "" if folder == Path.cwd().resolve() else f"cd {shown(folder)} && "
    console.print("\nnext:", highlight=False)
    for command, why in (("evalgate check", "validate everything (no model loaded)"),
                         ("evalgate baseline", "measure the cheap options first"),
                         ("evalgate run", "baseline → train → gate → promote")):
        console.print(f"  {where}{command:<18} [dim]# {why}[/]", highlight=False)
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser(
        "init", help="write a first project (suite, baselines, training) from a file of "
                     "examples")
    parser.add_argument("data", metavar="EXAMPLES.jsonl",
                      help="the examples, each an input field and a reference answer: JSON "
                           "lines (one object per line), a JSON array of objects, or CSV/TSV "
                           "with a header row")
    parser.add_argument("--dir", default=".", help="project folder (default: here)")
    parser.add_argument("--name", default=None, help="project and suite name (default: the "
                                                   "file's name)")
    parser.add_argument("--input", default=None, metavar="FIELD", help="the input field")
    parser.add_argument("--reference", default=None, metavar="FIELD",
                      help="the reference field (an object or a JSON string of one gives "
                           "JSON-aware criteria and a schema)")
    parser.add_argument("--id-field", default=None, metavar="FIELD",
                      help="the id field (default: `id` if present, else ids are written)")
    parser.add_argument("--heldout", default=None, metavar="FILE",
                      help="held-out examples (default: split them off EXAMPLES.jsonl)")
    parser.add_argument("--heldout-fraction", type=float, default=0.25,
                      help="share held out when no --heldout file is given (default 0.25)")
    parser.add_argument("--model", default="smollm2-135m-instruct",
                      help="base model: alias, local folder or hub id")
    parser.add_argument("--method", default="sft+dpo",
                      choices=["sft", "sft+dpo", "sft+kto", "dpo", "kto"])
    parser.add_argument("--no-tokenizer", action="store_true",
                      help="estimate max_new_tokens from characters instead of the tokenizer")
    parser.add_argument("-y", "--yes", action="store_true",
                      help="never ask (the default when no terminal is attached)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=run)
