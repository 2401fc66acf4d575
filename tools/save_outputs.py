"""Execute the notebooks and keep the outputs a reader should see, scrubbed of this machine.

    python tools/save_outputs.py [NOTEBOOK ...]     # default: every numbered notebook

Runs `nbdev-test --save` on each notebook (its tests pass, or nothing is written), then, in the saved
notebook: drops stderr (progress bars, warnings) and widgets (a tqdm bar in Jupyter: saved without its
state, it shows 0 % for ever), replaces temporary folders with `tmp/`, and drops any output that still
names this machine's paths. Run `nbdev-clean` afterwards, as before every commit.
"""
import json, re, subprocess, sys
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent/"nbs"
TMP = re.compile(r"/tmp/tmp[\w-]+")
MACHINE = re.compile(r"(/root/|/home/|/work/|/Users/|site-packages)")
WIDGET = "application/vnd.jupyter.widget-view+json"  # a widget's output; its state is not saved with the notebook


def scrub(text: str) -> str: return TMP.sub("tmp", text)


def dropped(o: dict) -> bool:
    "Is output `o` one a reader should not see: stderr (progress, warnings) or a widget (frozen without its state)?"
    return (o.get("output_type") == "stream" and o.get("name") == "stderr") or WIDGET in o.get("data", {})


def clean_outputs(path: Path) -> int:
    "Scrub the outputs of one saved notebook in place; returns the outputs kept."
    nb, kept = json.loads(path.read_text()), 0
    nb.get("metadata", {}).pop("widgets", None)  # the widget state, if a frontend saved any
    for cell in nb["cells"]:
        outs = []
        for o in cell.get("outputs", []):
            if dropped(o): continue
            o = json.loads(scrub(json.dumps(o)))
            text = "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            if MACHINE.search(text): continue
            outs.append(o)
        if cell["cell_type"] == "code": cell["outputs"] = outs; kept += len(outs)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return kept


if __name__ == "__main__":
    names = [Path(n).name for n in sys.argv[1:]] or sorted(p.name for p in NBS.glob("[0-9]*.ipynb"))  # nbs/X.ipynb or X.ipynb
    for name in names:
        r = subprocess.run(["nbdev-test", "--file-glob", name, "--save"], cwd=NBS, capture_output=True, text=True)
        if r.returncode: sys.exit(f"{name}: tests failed, nothing saved\n{r.stderr[-2000:]}")
        print(f"{name}: {clean_outputs(NBS/name)} outputs kept, {(NBS/name).stat().st_size / 1e3:.0f} kB")
