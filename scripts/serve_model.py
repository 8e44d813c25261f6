"""Serve the project's base model on an OpenAI-compatible endpoint (`transformers serve`), and
write a served copy of each baseline, so the same prompts can be evaluated through the `openai`
backend exactly as through the local one.

    python scripts/serve_model.py [--port 8000] [--project .]     # or: make serve
    evalgate eval --suite suites/triage.yaml --system baselines/prompt_served.yaml

The model is served under its evalgate name (e.g. `smollm2-135m-instruct`: a folder of that
name is linked to the converted weights, since `transformers serve` names a model by its path)
in the project's dtype on this machine, on 127.0.0.1 only. Each copy `<name>_served.yaml` sits
next to its baseline (relative paths to few-shot pools and documents still hold) with
`backend: {kind: openai, base_url: http://127.0.0.1:PORT/v1, model: <name>}`; the copies are
git-ignored. `--print-model` prints the converted model folder and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from evalgate.models import default_cache_dir, resolve_model
    from evalgate.models.loading import model_settings, resolve_device
    from evalgate.project import load_project
    from evalgate.util.yamlio import read_yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--project", default=str(ROOT))
    parser.add_argument("--print-model", action="store_true")
    args = parser.parse_args()

    project = load_project(args.project)
    ref = project.resolve_model_ref(project.config.model.base)
    resolved = resolve_model(ref, default_cache_dir())
    if args.print_model:
        print(resolved.path)
        return
    dtype = model_settings(project.config.model).resolved_dtype()
    name = resolved.ref.replace("/", "--")
    serve_dir = default_cache_dir() / "serve"
    serve_dir.mkdir(parents=True, exist_ok=True)
    link = serve_dir / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(resolved.path, target_is_directory=True)
    base_url = f"http://127.0.0.1:{args.port}/v1"
    for path in project.baseline_paths:
        raw = read_yaml(path)
        raw["name"] = f"{raw['name']}_served"
        raw["description"] = (f"{path.name} through the openai backend: `transformers serve` "
                              f"of {name} (scripts/serve_model.py)")
        raw["backend"] = {"kind": "openai", "base_url": base_url, "model": name}
        copy = path.with_name(f"{path.stem}_served.yaml")
        copy.write_text("# Written by scripts/serve_model.py: do not edit (git-ignored).\n"
                        + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=100),
                        encoding="utf-8")
        print(f"wrote {copy.relative_to(project.root)}")
    binary = Path(sys.executable).with_name("transformers")
    device = resolve_device(project.config.model.device)
    command = [str(binary), "serve", name, "--device", device, "--dtype", dtype,
               "--host", "127.0.0.1", "--port", str(args.port)]
    print(f"serving {name} ({dtype}) at {base_url}: {' '.join(command)} (in {serve_dir})",
          flush=True)
    os.chdir(serve_dir)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
