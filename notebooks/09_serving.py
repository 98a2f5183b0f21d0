# %% [markdown]
# # 09 · Serving a trained run: recommend, export, serve
#
# A run folder (`config.json`, `checkpoint.pt`, `id_maps.npz`) is all a service needs
# (`docs/serving.md`). This notebook takes one from training to answers over HTTP:
#
# 1. a run trained on a file of interactions whose ids are text, then the file deleted;
# 2. `load_run` and `recommend` in the dataset's own ids, checked against evaluation's ranks;
# 3. every user's top 10 into a Parquet file, chunk by chunk (`recommend --all`);
# 4. the scorer exported to ONNX and run by onnxruntime, against the eager model;
# 5. the HTTP service on 127.0.0.1: `/health`, `/recommend`, and a one-line error;
# 6. the approximate stage: an HNSW index against exact top-k.
#
# Everything comes from `srsupm_lab`; the notebook defines no model. The default run takes under a
# minute on a CPU.

# %%
# %matplotlib inline
import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srsupm_lab import make_synthetic, run_experiment
from srsupm_lab.cli.serving import write_all
from srsupm_lab.serve import load_run
from srsupm_lab.serve.ann import faiss_available, recall_at_k
from srsupm_lab.serve.export import onnx_available
from srsupm_lab.serve.http import make_server
from srsupm_lab.serve.recommend import padded_rows
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the work here is small (srsupm_lab.threads)

# %% tags=["parameters"]
users = 400               # users of the generated world written as a file of interactions
items = 300               # its items
backbone = "sasrec"       # the encoder served (any of the five; caser embeds users)
dim = 32                  # embedding size d
max_len = 20              # input length L
epochs = 3                # training epochs (a demonstration, not a converged run)
k = 10                    # items per user
seed = 0                  # seeds the world and the model

# %% [markdown]
# ## 1. A run on a file of interactions, then the file deleted
# A real catalogue has its own ids: here users `u0007` and items `sku-0042`, written to a CSV file
# of interactions (`user, item, timestamp, labels`). The run folder stores the maps between those ids
# and the model's indices when it is created; the file is then deleted, as a service never has it.

# %%
work = Path(tempfile.mkdtemp())
world = make_synthetic(n_users=users, n_items=items, seed=seed)
lengths = world.lengths()
flat = np.concatenate(world.sequences)
frame = pd.DataFrame({"user": np.repeat([f"u{u:04d}" for u in range(world.n_users)], lengths),
                      "item": [f"sku-{int(i):04d}" for i in flat],
                      "timestamp": np.concatenate([np.arange(n) for n in lengths]),
                      "labels": ["|".join(world.label_names[j] for j in sorted(world.item_labels[i])) for i in flat]})
frame.to_csv(work / "interactions.csv", index=False)
result = run_experiment(dict(dataset=str(work / "interactions.csv"), dataset_options={"k": 1, "label_column": "labels"},
                             backbone=backbone, dim=dim, max_len=max_len, epochs=epochs, lr=0.005, seed=seed,
                             out_dir=str(work / "run"), progress=False, device="cpu"))
(work / "interactions.csv").unlink()
print("test recall@10:", round(result["test"][0]["recall@10"], 4))
print("run folder:", sorted(p.name for p in (work / "run").iterdir()))

# %% [markdown]
# ## 2. Recommendations in the dataset's own ids
# `load_run` rebuilds the model from the folder alone. A stored user is served from her whole
# history; a history can also be given directly (an anonymous session). Unknown ids are left out
# and named in one line.

# %%
run = load_run(work / "run", device="cpu")
print(run)
run.recommend(users=["u0001", "u0002", "nobody"], k=5)

# %%
run.recommend(histories=[["sku-0010", "sku-0011", "sku-0012"]], k=5)

# %% [markdown]
# The scores are evaluation's: the training wrote each test user's rank of her held-out item to
# `test_ranks.csv` (0 = top). Served from her history without that item, the item comes out at the
# same place (where it is not also an earlier item, which serving leaves out as seen).

# %%
ranks = pd.read_csv(work / "run" / "test_ranks.csv")
sample = ranks.head(60)
raw_users = run.maps.users[sample["user"].to_numpy()]
histories = [run.maps.items[run.maps.history(u)[:-1] - 1].tolist() for u in sample["user"]]
targets = [run.maps.items[run.maps.history(u)[-1] - 1] for u in sample["user"]]
table = run.recommend(users=raw_users.tolist(), histories=histories, k=run.n_items)
served = {u: int(table[(table["user"] == u) & (table["item"] == t)]["rank"].iloc[0]) - 1
          for u, t, h in zip(raw_users, targets, histories) if t not in h}
agree = [served[u] == r for u, r in zip(raw_users, sample["rank"]) if u in served]
print(f"{sum(agree)} of {len(agree)} served ranks equal evaluation's")

# %% [markdown]
# ## 3. Every user's top k into a file, chunk by chunk
# `recommend --all --out FILE` (here its function) scores the users in batches and appends each batch
# to a temporary file that is moved into place at the end: a killed run leaves no half file.

# %%
start = time.perf_counter()
n_rows = write_all(run, work / "recs.parquet", k=k, batch_size=128, progress=False)
seconds = time.perf_counter() - start
recs = pd.read_parquet(work / "recs.parquet")
print(f"{n_rows} rows for {run.n_users} users")
recs.head(12)

# %%
fig, ax = plt.subplots(figsize=(6, 2.8))
popularity = recs["item"].value_counts()
ax.plot(np.arange(1, len(popularity) + 1), popularity.to_numpy())
ax.set(xscale="log", yscale="log", xlabel="item, by how many top-10 lists hold it", ylabel="lists",
       title=f"{len(popularity)} of {run.n_items} items are recommended to someone")
plt.tight_layout()

# %% [markdown]
# ## 4. The scorer as ONNX, run by onnxruntime
# The export traces `score(inputs) -> [B, N+1]` with a dynamic batch size; onnxruntime runs it with no
# PyTorch. The exported scores equal the eager model's to float rounding.

# %%
if onnx_available():
    from srsupm_lab.serve.export import OnnxScorer, export_onnx
    path = export_onnx(run, work / "model.onnx")
    rows = np.arange(50)
    inputs = padded_rows(run.maps.history_flat, run.maps.history_start, rows, run.max_len)
    users_in = torch.from_numpy(rows) if run.needs_users else None
    eager = run.scores(torch.from_numpy(inputs), users_in).numpy()
    exported = OnnxScorer(path).scores(inputs, rows if run.needs_users else None)
    finite = np.isfinite(eager)
    print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB; largest difference from the eager model "
          f"{np.abs(exported[finite] - eager[finite]).max():.1e}")
else:
    print("onnx / onnxscript / onnxruntime are not installed (pip install 'srsupm_lab[serve]'): no export here")

# %% [markdown]
# ## 5. The HTTP service
# `serve RUN --port P` answers `/health` and `/recommend`; here the same server runs in a thread on
# 127.0.0.1 (a free port) and is asked three times: a health check, two users, and a bad `k`.

# %%
server = make_server(run, host="127.0.0.1", port=0)
thread = threading.Thread(target=server.serve_forever, daemon=True)
thread.start()
base = f"http://127.0.0.1:{server.server_address[1]}"


def ask(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


print(ask("/health"))
status, answer = ask("/recommend", {"users": ["u0003", "u0004"], "k": 3})
print(status, pd.DataFrame(answer["recommendations"]).to_string(index=False))
print(ask("/recommend", {"users": ["u0003"], "k": 0}))
latencies = []
for u in range(100):
    t = time.perf_counter()
    ask("/recommend", {"user": f"u{u:04d}", "k": k})
    latencies.append((time.perf_counter() - t) * 1e3)
server.shutdown()
server.server_close()
print(f"100 requests at batch 1: p50 {np.percentile(latencies, 50):.1f} ms, p99 {np.percentile(latencies, 99):.1f} ms "
      f"(this machine, now; benchmarks/bench_serve.py measures it properly)")

# %% [markdown]
# ## 6. The approximate stage
# For a dot-product model the top k is a maximum inner-product search over the item table. An HNSW
# graph answers it without scoring every item; on 300 items that buys nothing (the exact product is
# already tiny), but recall shows what the approximation gives up as its search breadth `ef` shrinks.
# `benchmarks/bench_serve_ann.py` measures the speed-up on a million items.

# %%
if faiss_available():
    from srsupm_lab.serve.ann import ItemIndex
    every = run.maps.users.tolist()
    exact = run.recommend(users=every, k=k)
    index = ItemIndex(run.item_table(), kind="hnsw", M=8)
    rows = []
    for ef in (1, 4, 16, 64):
        index.set_search(ef=ef)
        approx = run.recommend(users=every, k=k, index=index)
        per_user = [recall_at_k(torch.tensor([a]), torch.tensor([e])) for a, e in
                    zip(approx.groupby("user", sort=False)["item"].apply(lambda s: [int(x[4:]) for x in s]),
                        exact.groupby("user", sort=False)["item"].apply(lambda s: [int(x[4:]) for x in s]))]
        rows.append({"ef": ef, "recall@10 against exact": float(np.mean(per_user))})
    display(pd.DataFrame(rows))
else:
    print("faiss-cpu is not installed (pip install 'srsupm_lab[serve]'): exact top-k only")
