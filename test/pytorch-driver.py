"""Drives a script `dlg compile --target pytorch` wrote, for test/export-pytorch.test.ts.

python3 pytorch-driver.py JOBS.json, a list of jobs, each naming a script and saying what to do:
  {"script": "model.py", "load": "in.safetensors" | null, "seed": 3,
   "batches": ["b1.safetensors", ...],      # train one step on each, in order (train_step)
   "epoch_steps": N, "epochs": E,          # the run's shape, for the schedule
   "save": "out.safetensors" | null,       # the checkpoint after those steps (dlg's format)
   "eval": "batch.safetensors" | null,     # graph_eval on it: outputs written to eval_out
   "eval_out": "outputs.safetensors" | null}
Prints one JSON line per job: {"losses": [...], "loss": eval loss | null}.
A job {"graph": "graphs.py", "fn": "g3", "inputs": "in.safetensors", "dims": {"B": 4}, "out": "out.safetensors"}
instead calls fn(inp, D) of a module of pyFunction graphs and writes its outputs (o0, o1, ...); prints {}.
"""
import importlib.util
import json
import sys

import torch


modules = {}


def load(path, k):
    if path not in modules:
        spec = importlib.util.spec_from_file_location(f"exported_{k}", path)
        modules[path] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[path])
    return modules[path]


def run_graph(job, k):
    mod = load(job["graph"], k)
    inp, _ = mod.read_safetensors(job["inputs"])
    outs = getattr(mod, job["fn"])(inp, job["dims"])
    mod.write_safetensors(job["out"], [(f"o{j}", t) for j, t in enumerate(outs)], {})
    print(json.dumps({}), flush=True)


def run(job, k):
    if "graph" in job:
        return run_graph(job, k)
    spec = importlib.util.spec_from_file_location(f"exported_{k}", job["script"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    model = mod.Model()
    opt = mod.Optimizer(model.trainable())
    step, seed = 0, job.get("seed", 0)
    if job.get("load"):
        step, seed, _meta = mod.load_checkpoint(model, opt, job["load"])
    else:
        model.init(seed)
    total = job.get("epoch_steps", 1) * job.get("epochs", 1)
    losses = []
    for path in job.get("batches", []):
        batch, _ = mod.read_safetensors(path)
        step += 1
        epoch = (step - 1) // job.get("epoch_steps", 1) + 1
        loss, _metrics = mod.train_step(model, model, opt, batch, step, seed, mod.lr_at(step, epoch, total))
        losses.append(loss)
    if job.get("save"):
        mod.save_checkpoint(model, opt, job["save"], step, seed)
    result = {"losses": losses, "loss": None}
    if job.get("eval"):
        batch, _ = mod.read_safetensors(job["eval"])
        model.eval()
        with torch.no_grad():
            outs, loss, _metrics = model(batch)
        result["loss"] = None if loss is None else float(loss)
        mod.write_safetensors(job["eval_out"], list(outs.items()), {})
    print(json.dumps(result), flush=True)


for k, job in enumerate(json.load(open(sys.argv[1]))):
    run(job, k)
