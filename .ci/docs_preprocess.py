"Everything `nbdev-docs` does before calling quarto: refresh the site config and preprocess notebooks into `_proc/`."
import shutil, time
from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
from nbdev.serve import proc_nbs
import nbdev.doclinks

if __name__ == "__main__":
    t = time.time()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__()
    proc_nbs()
    print(f"docs: notebooks preprocessed into _proc/ in {time.time() - t:.0f} s.")
    if not shutil.which("quarto"):
        print("docs: quarto is not installed here, so the site is not rendered; "
              "the GitHub workflow .github/workflows/deploy.yaml renders and publishes it.")
