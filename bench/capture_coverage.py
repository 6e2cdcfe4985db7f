"""How much of transformers' models fastinit's capture covers, and how fast it builds them.

    python bench/capture_coverage.py [--timeout 120] [--workers 2] [--json out.json]
                                     [--only coverage|speed] [--limit N]

Coverage: every architecture of ``AutoModel`` (transformers' ``MODEL_MAPPING_NAMES``)
that builds from its default config on the installed transformers, on the meta device,
each in a worker process with a time limit. An architecture is *fully covered* when
every tensor gets its values from captured init code or a layer default (no rule
needed; ``fastinit.torch.plan.cover`` finds none uncovered). Two ways:

- ``from_config``: the model's construction and its init code recorded, what
  ``fastinit.torch.from_config`` does; capture time includes the construction on meta;
- ``meta model``: a model already built on meta, only its init code recorded, what
  ``fastinit.torch.materialize`` of such a model does; capture time is capture alone.

Printed: architectures built, the fraction fully covered, the fraction of tensors
covered, the median capture time, and the uncovered tensors grouped by module class
and reason.

Speed: six models at their real sizes (GPT-2 small, a Llama of hidden 1024 and 8 layers,
BERT base, T5 small, ViT base, Qwen2-0.5B's shapes with 4 layers), float32 on the CPU,
best of ``--repeat`` runs, all in this run:

- ``fastinit from_config``: ``fastinit.torch.from_config(config, device="cpu")``;
- ``fastinit materialize``: capture plus ``materialize`` of a model built on meta;
- ``HF from_config``: ``AutoModel.from_config(config)``, transformers' own init;
- ``HF meta path``: a model built on meta, then ``to_empty(device="cpu")``,
  ``initialize_weights()`` and ``tie_weights()``, as transformers' loading does.

Goals: from_config at least 3x faster than transformers' from_config, materialize
faster than transformers' meta path; coverage of at least 95% of the architectures
and 99.5% of the tensors.
"""

import argparse
import collections
import contextlib
import gc
import json
import multiprocessing as mp
import queue
import statistics
import time
import warnings

SIX = {  # name: (the config timed, a two-layer config of the same model for the warm-up)
    "gpt2 (small)": lambda t: (t.GPT2Config(), t.GPT2Config(n_layer=2, n_embd=64, n_head=4)),
    "llama (1024, 8 layers)": lambda t: (
        t.LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                      num_attention_heads=16, num_key_value_heads=16),
        t.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4)),
    "bert (base)": lambda t: (t.BertConfig(), t.BertConfig(hidden_size=64, num_hidden_layers=2,
                                                           num_attention_heads=4)),
    "t5 (small)": lambda t: (t.T5Config(), t.T5Config(d_model=64, num_layers=2, num_heads=4)),
    "vit (base)": lambda t: (t.ViTConfig(), t.ViTConfig(hidden_size=64, num_hidden_layers=2,
                                                        num_attention_heads=4)),
    "qwen2 (0.5B shapes, 4 layers)": lambda t: (
        t.Qwen2Config(hidden_size=896, intermediate_size=4864, num_attention_heads=14,
                      num_key_value_heads=2, vocab_size=151936, num_hidden_layers=4,
                      tie_word_embeddings=True),
        t.Qwen2Config(hidden_size=56, intermediate_size=128, num_attention_heads=14,
                      num_key_value_heads=2, vocab_size=256, num_hidden_layers=2)),
}


def _quiet():
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    return transformers


# --- coverage ---------------------------------------------------------------------------


def survey(model_type, constructed):
    """(tensors, covered, capture seconds, [(module class, reason)] uncovered) of the
    default config of ``model_type``; ``constructed``: record its construction too."""
    import torch

    from fastinit.torch import capture, plan

    transformers = _quiet()
    config = transformers.AutoConfig.for_model(model_type)
    recorder = capture.Recorder() if constructed else None
    start = time.perf_counter()
    with recorder.recording() if constructed else contextlib.nullcontext(), torch.device("meta"):
        model = transformers.AutoModel.from_config(config)
    if not constructed:
        start = time.perf_counter()
    captured = capture.capture(model, recorder)
    seconds = time.perf_counter() - start
    planned, uncovered = plan.cover(model, captured=captured, meta_buffers=True)
    return (len(planned) + len(uncovered), len(planned), seconds,
            [(owner, reason) for _, owner, reason in uncovered])


def _worker(tasks, results):
    for model_type in iter(tasks.get, None):
        row = {"model_type": model_type}
        try:
            for way, constructed in (("from_config", True), ("meta model", False)):
                row[way] = survey(model_type, constructed)
        except Exception as error:  # a config that does not build: reported, not counted
            row["error"] = f"{type(error).__name__}: {str(error)[:120]}"
        results.put(row)


class _Worker:
    def __init__(self):
        context = mp.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.process = context.Process(target=_worker, args=(self.tasks, self.results),
                                       daemon=True)
        self.process.start()
        self.model_type = None

    def give(self, model_type):
        self.model_type, self.started = model_type, time.monotonic()
        self.tasks.put(model_type)


def coverage(model_types, workers, timeout):
    """A row per architecture: its ``survey`` both ways, or its error or timeout."""
    todo, rows, pool = list(model_types), [], [_Worker() for _ in range(workers)]
    while todo or any(w.model_type for w in pool):
        for i, worker in enumerate(pool):
            if worker.model_type is None and todo:
                worker.give(todo.pop(0))
            elif worker.model_type is not None:
                try:
                    rows.append(worker.results.get(timeout=0.05))
                    worker.model_type = None
                except queue.Empty:
                    if time.monotonic() - worker.started > timeout:
                        rows.append({"model_type": worker.model_type,
                                     "error": f"timeout after {timeout} s"})
                        worker.process.kill()
                        pool[i] = _Worker()
    for worker in pool:
        worker.tasks.put(None)
    return sorted(rows, key=lambda r: r["model_type"])


def summarize(rows, way):
    built = [r for r in rows if way in r]
    full = [r for r in built if r[way][0] == r[way][1]]
    tensors = sum(r[way][0] for r in built)
    covered = sum(r[way][1] for r in built)
    reasons = collections.Counter(u for r in built for u in r[way][3])
    return {"built": len(built), "fully_covered": len(full),
            "fully_covered_fraction": len(full) / len(built), "tensors": tensors,
            "tensors_covered": covered, "tensors_covered_fraction": covered / tensors,
            "capture_median_s": statistics.median(r[way][2] for r in built),
            "not_fully_covered": [r["model_type"] for r in built if r not in full],
            "uncovered_reasons": [[n, owner, reason]
                                  for (owner, reason), n in reasons.most_common()]}


def print_coverage(rows, summaries):
    failed = [r for r in rows if "error" in r]
    print(f"{len(rows)} AutoModel architectures; {len(failed)} do not build from their default "
          "config here (not counted):")
    for r in failed:
        print(f"  {r['model_type']}: {r['error']}")
    for way, s in summaries.items():
        print(f"\n{way}: {s['built']} built, {s['fully_covered']} fully covered "
              f"({s['fully_covered_fraction']:.1%}); tensors {s['tensors_covered']} of "
              f"{s['tensors']} ({s['tensors_covered_fraction']:.2%}); capture median "
              f"{s['capture_median_s'] * 1000:.0f} ms")
        print("  not fully covered: " + ", ".join(s["not_fully_covered"]))
        for n, owner, reason in s["uncovered_reasons"][:15]:
            print(f"  {n:5d} x {owner}: {reason}")


# --- speed ------------------------------------------------------------------------------


def _best(fn, repeat):
    """(best wall-clock seconds of ``fn()`` over ``repeat`` runs, what the last returned)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def speed(repeat):
    """A row per model of ``SIX``: seconds of each way of building it."""
    import torch

    import fastinit.torch as ft

    transformers = _quiet()
    auto = transformers.AutoModel

    def on_meta(config):
        with torch.device("meta"):
            return auto.from_config(config)

    def hf_meta_path(model):
        model.to_empty(device="cpu")
        model.initialize_weights()
        model.tie_weights()
        return model

    for make in SIX.values():  # compile fastinit's kernels before timing
        ft.from_config(make(transformers)[1], seed=0, device="cpu")
    rows = []
    for name, make in SIX.items():
        config, _ = make(transformers)
        row = {"model": name}
        row["params"] = sum(p.numel() for p in on_meta(config).parameters())
        row["fastinit from_config"], _ = _best(
            lambda: ft.from_config(config, seed=0, device="cpu"), repeat)
        row["fastinit materialize"] = min(_best(
            lambda m=on_meta(config): ft.materialize(m, "cpu", seed=0), 1)[0]
            for _ in range(repeat))
        row["HF from_config"], _ = _best(lambda: auto.from_config(config), repeat)
        row["HF meta path"] = min(_best(lambda m=on_meta(config): hf_meta_path(m), 1)[0]
                                  for _ in range(repeat))
        rows.append(row)
        print(_speed_line(row), flush=True)
    return rows


SPEED_HEADER = (f"{'model':32s} {'params':>7s} {'fi from_config':>15s} {'HF from_config':>15s} "
                f"{'x':>6s} {'fi materialize':>15s} {'HF meta path':>13s} {'x':>6s}")


def _speed_line(row):
    return (f"{row['model']:32s} {row['params'] / 1e6:6.0f}M "
            f"{row['fastinit from_config']:14.3f}s {row['HF from_config']:14.3f}s "
            f"{row['HF from_config'] / row['fastinit from_config']:5.1f}x "
            f"{row['fastinit materialize']:14.3f}s {row['HF meta path']:12.3f}s "
            f"{row['HF meta path'] / row['fastinit materialize']:5.1f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds per architecture (default 120)")
    parser.add_argument("--workers", type=int, default=max(1, (mp.cpu_count() or 2)))
    parser.add_argument("--repeat", type=int, default=3, help="runs per speed figure")
    parser.add_argument("--limit", type=int, help="survey only the first N architectures")
    parser.add_argument("--only", choices=["coverage", "speed"])
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    transformers = _quiet()
    import torch

    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    report = {"transformers": transformers.__version__, "torch": torch.__version__}
    if args.only != "speed":
        rows = coverage(sorted(MODEL_MAPPING_NAMES)[:args.limit], args.workers, args.timeout)
        report["coverage"] = {way: summarize(rows, way) for way in ("from_config", "meta model")}
        report["architectures"] = rows
        print_coverage(rows, report["coverage"])
    if args.only != "coverage":
        print(f"\nspeed: float32 on the CPU ({torch.get_num_threads()} threads), best of "
              f"{args.repeat}; x = transformers' time / fastinit's\n{SPEED_HEADER}")
        report["speed"] = speed(args.repeat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
