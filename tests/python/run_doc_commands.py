#!/usr/bin/python3
"""Runs the commands README.md and docs/own-model.md show, in the order they show them, at tiny
budgets, in a temporary folder: a documented command that stops working fails the suite
(the DocsCommands test). Commands of the other docs/*.md are measurement records at full budget;
they are listed with where they are exercised instead (--list shows every command and its fate).

Usage: /usr/bin/python3 tests/python/run_doc_commands.py REPO BUILD_DIR [--work DIR] [--list]

Every code line that starts with `build/pdiff` or `/usr/bin/python3 tests/python/own_data.py` is a
command. The files a reader is assumed to have (their data, weights, model, CIFAR folder) are made
first, small, by the test helpers. pdiff stage commands get tiny budgets appended (a sweep keeps
the keys it sweeps); `export`, `keys` and `--version` run as written.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

RUN_DOCS = ["README.md", "docs/own-model.md"]
TINY = ["data.train_limit=128", "data.test_limit=64", "base.epochs=1", "base.batch=32", "zoo.k=4", "zoo.batch=32",
        "ae.channels=8,16,16,8", "ae.latent=32", "ae.steps=10", "ae.batch=4", "ldm.channels=8,16", "ldm.steps=10",
        "ldm.batch=4", "generate.n=3", "generate.steps=4", "eval.baseline_n=2", "eval.tsne=false",
        "eval.barrier_pairs=1", "zoo.run_iters=5"]
# The deep networks at 32 px (a ResNet-18 on CIFAR's format) take as many steps on a quarter of
# the images, as the breadth tests do.
DEEP = ["data.train_limit=16", "data.test_limit=8", "base.batch=8", "zoo.batch=8"]
# The Python helper's sizes for the files a command makes (own_data.py's defaults: 2000 / 500).
HELPER_TINY = {"--train": "128", "--test": "64", "--steps": "5"}
STAGES = {"run", "collect", "import", "train", "generate", "eval", "sweep", "table"}
# Commands of RUN_DOCS run elsewhere at their own (smaller) sizes, with the test that does.
ELSEWHERE = {
    "tests/python/own_model_flow.py": "the OwnModelFlow tests run this script (imported zoos) on 10 000 / 5 000 training images",
}


def commands_of(path):
    """(line number, command) for every command line in code blocks (indented or fenced)."""
    out, fenced, lang = [], False, ""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lang = line.strip()[3:].strip() if fenced else ""
            i += 1
            continue
        in_code = (fenced and lang in ("", "sh", "bash", "shell")) or (not fenced and line.startswith("    "))
        text = line.strip()
        if in_code and (text.startswith("build/pdiff") or text.startswith("/usr/bin/python3 tests/python/")):
            start = i + 1
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1] + " " + lines[i].strip()
            out.append((start, text))
        i += 1
    return out


def prepare_fixtures(work, repo, commands):
    """What a reader of the docs is assumed to have (their data, weights, model, CIFAR files),
    made small, for the commands that name them."""
    py = "/usr/bin/python3"
    helper = os.path.join(repo, "tests/python/own_data.py")
    cifar = os.path.join(work, "cifar/cifar10/cifar-10-batches-bin")
    fixtures = {
        "my_data.pt": [py, helper, "dataset", "my_data.pt", "--train", "128", "--test", "64"],
        "weights.pt": [py, helper, "base", "convnet4", "weights.pt", "--steps", "5", "--train", "128", "--test", "64"],
        "lenet.pt": [py, helper, "script", "lenet.pt", "--model", "lenet_bn", "--steps", "5", "--test", "64"],
        "cifar-10": [py, os.path.join(repo, "tests/python/make_tiny_datasets.py"), "cifar", "--train", "128",
                     "--test", "64"],
    }
    text = " ".join(commands)
    for name, cmd in fixtures.items():
        if name in text or (name == "cifar-10" and "my-cifar10.yaml" in text):
            subprocess.run(cmd, cwd=work, check=True, stdout=subprocess.DEVNULL)
    if "my-cifar10.yaml" in text:
        with open(os.path.join(repo, "configs/cifar10-resnet18.yaml")) as f:
            config = f.read()
        with open(os.path.join(work, "my-cifar10.yaml"), "w") as f:
            f.write(re.sub(r"(?m)^(\s*root:).*$", r"\1 " + cifar, config))
    return {"/data/cifar-10-batches-bin": cifar}


def prepared(words, substitutions):
    """The command as the test runs it: paths a reader has, tiny budgets."""
    def substitute(word):
        key, eq, value = word.partition("=")
        return key + "=" + substitutions[value] if eq and value in substitutions else word
    words = [substitute(w) for w in words]
    if words[0] == "build/pdiff" and len(words) > 1 and words[1] in STAGES:
        given = {w.split("=", 1)[0] for w in words if "=" in w}
        tiny = TINY + (DEEP if any("resnet" in w or "cifar10" in w for w in words) else [])
        words = words + [t for t in tiny if words[1] != "sweep" or t.split("=", 1)[0] not in given]
    if words[0] == "/usr/bin/python3" and words[1].endswith("own_data.py"):
        takes = {"dataset": ("--train", "--test"), "base": ("--train", "--test", "--steps"),
                 "script": ("--steps", "--test"), "zoo": ("--train", "--test", "--steps")}.get(words[2], ())
        for flag in takes:
            if flag in words:
                words[words.index(flag) + 1] = HELPER_TINY[flag]
            else:
                words += [flag, HELPER_TINY[flag]]
    return words


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo")
    ap.add_argument("build")
    ap.add_argument("--work", default="", help="run in this folder (kept) instead of a temporary one")
    ap.add_argument("--list", action="store_true", help="only list the commands and what happens to each")
    a = ap.parse_args()
    repo, build = os.path.abspath(a.repo), os.path.abspath(a.build)

    plan = []  # (doc, line, command, None to run it | why not)
    for doc in sorted({*RUN_DOCS, *("docs/" + f for f in os.listdir(os.path.join(repo, "docs")) if f.endswith(".md"))}):
        for line, cmd in commands_of(os.path.join(repo, doc)):
            why = next((w for k, w in ELSEWHERE.items() if k in cmd), None)
            if why is None and doc not in RUN_DOCS:
                why = ("a measurement record at full budget (its configs run in ShippedConfig.*, the scratch"
                       " ones in TableCli.RunsTheShippedScratchConfigs)")
            plan.append((doc, line, cmd, why))
    if a.list:
        for doc, line, cmd, why in plan:
            print(f"{doc}:{line}: {'RUN' if why is None else 'not here: ' + why}: {cmd}")
        return 0

    work = a.work or tempfile.mkdtemp(prefix="pdiff_docs_")
    os.makedirs(work, exist_ok=True)
    for name, target in (("build", build), ("tests", os.path.join(repo, "tests")), ("configs", os.path.join(repo, "configs"))):
        if not os.path.exists(os.path.join(work, name)):
            os.symlink(target, os.path.join(work, name))
    substitutions = prepare_fixtures(work, repo, [cmd for _, _, cmd, why in plan if why is None])
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    failures, ran = [], 0
    for doc, line, cmd, why in plan:
        if why is not None:
            continue
        words = prepared(shlex.split(cmd, comments=True), substitutions)
        t0 = time.time()
        p = subprocess.run(words, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ran += 1
        status = "ok" if p.returncode == 0 else f"FAILED (exit {p.returncode})"
        print(f"{doc}:{line}: {status} in {time.time() - t0:.1f} s: {shlex.join(words)}", flush=True)
        if p.returncode != 0:
            print("\n".join(p.stdout.strip().split("\n")[-15:]), flush=True)
            failures.append(f"{doc}:{line}")
    if not a.work and not failures:
        shutil.rmtree(work)
    print(f"run_doc_commands: {ran} commands run, {len(failures)} failed" + (": " + ", ".join(failures) if failures else ""))
    return 1 if failures or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
