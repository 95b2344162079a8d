#!/usr/bin/python3
"""compare_torch.py: the seed model in PyTorch, trained for a fixed time.

    /usr/bin/python3 bench/compare_torch.py PAIRS.jsonl TEMPLATE.safetensors \
        OUT.safetensors MINUTES [THREADS]

PAIRS.jsonl comes from bench/bench-encode: the training pairs as token ids
in the vocabulary of TEMPLATE (a model parley trained), so both systems
learn from the same examples with the same ids.  The model is the seed
design at TEMPLATE's sizes (embedding, hidden, layers, vocabulary):
Embedding -> LSTM encoder (packed, so the final state is each row's own)
-> LSTM decoder started from it -> Linear over the vocabulary, dropout 0.2
on embeddings and between layers, masked cross-entropy, teacher forcing.
Training follows parley train's defaults: 5% of the pairs held out for
validation, length-bucketed batches of 64 (chunks of 100 batches sorted by
length, batch order shuffled), RMSprop at 1e-3 (PyTorch's alpha 0.99 and
eps 1e-8, which parley uses too), 100 warm-up steps, gradient clipping at
norm 5, the rate halved after an epoch without improvement.

It stops when MINUTES have passed (checked after every step; validation
counts in the time, as in parley) and writes OUT with TEMPLATE's metadata
(vocabulary, sizes) and the weights that had the lowest validation loss:
a finished epoch's, or the weights at the stop when they are better.  That
last check is a courtesy parley's own time limit does not extend to itself
(parley keeps its best finished epoch), so the comparison leans PyTorch's
way.  So `parley eval` scores both models the same way.
"""
import copy
import json
import math
import random
import struct
import sys
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

PAD, START, END = 0, 1, 2
BATCH = 64
CHUNK_BATCHES = 100
VALID_FRACTION = 0.05
LR = 1e-3
WARMUP = 100
CLIP = 5.0
DECAY = 0.5
DROPOUT = 0.2
SEED = 1


class Seq2Seq(nn.Module):
    def __init__(self, v, e, h, layers):
        super().__init__()
        drop = DROPOUT if layers > 1 else 0.0
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(v, e)
        self.encoder.lstm = nn.LSTM(e, h, layers, dropout=drop)
        self.decoder = nn.Module()
        self.decoder.embedding = nn.Embedding(v, e)
        self.decoder.lstm = nn.LSTM(e, h, layers, dropout=drop)
        self.decoder.out = nn.Linear(h, v)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, source, source_lengths, target_input):
        embedded = self.dropout(self.encoder.embedding(source))
        packed = pack_padded_sequence(embedded, source_lengths, enforce_sorted=False)
        _, state = self.encoder.lstm(packed)
        output, _ = self.decoder.lstm(self.dropout(self.decoder.embedding(target_input)), state)
        return self.decoder.out(output)


def read_safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def write_safetensors(path, header, tensors):
    """header: the template's, tensors: name -> float32 tensor of the
    template's shape; data laid out in the template's order."""
    names = sorted((k for k in header if k != "__metadata__"),
                   key=lambda k: header[k]["data_offsets"][0])
    out = {"__metadata__": header["__metadata__"]}
    blobs, offset = [], 0
    for name in names:
        t = tensors[name].detach().to(torch.float32).contiguous()
        if list(t.shape) != header[name]["shape"]:
            raise SystemExit("%s: shape %s, the template has %s"
                             % (name, list(t.shape), header[name]["shape"]))
        data = t.numpy().tobytes()
        out[name] = {"dtype": "F32", "shape": header[name]["shape"],
                     "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(out, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    import os
    os.replace(path + ".tmp", path)


def make_batch(rows):
    b = len(rows)
    ts = max(len(s) for s, _ in rows)
    td = max(len(t) for _, t in rows) + 1
    source = [[PAD] * b for _ in range(ts)]
    target_input = [[PAD] * b for _ in range(td)]
    target_output = [[PAD] * b for _ in range(td)]
    for i, (s, t) in enumerate(rows):
        for k, x in enumerate(s):
            source[k][i] = x
        for k, x in enumerate([START] + t):
            target_input[k][i] = x
        for k, x in enumerate(t + [END]):
            target_output[k][i] = x
    lengths = torch.tensor([len(s) for s, _ in rows])
    target_lengths = torch.tensor([len(t) + 1 for _, t in rows])
    mask = torch.arange(td).unsqueeze(1) < target_lengths.unsqueeze(0)
    return (torch.tensor(source), lengths, torch.tensor(target_input),
            torch.tensor(target_output), mask)


def loss_of(model, batch, reduction):
    source, lengths, target_input, target_output, mask = batch
    logits = model(source, lengths, target_input)
    return nn.functional.cross_entropy(logits[mask], target_output[mask],
                                       reduction=reduction), int(mask.sum())


def validate(model, batches):
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for b in batches:
            loss, n = loss_of(model, b, "sum")
            total += float(loss)
            tokens += n
    model.train()
    return total / tokens


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    pairs_path, template_path, out_path = argv[1], argv[2], argv[3]
    limit_s = float(argv[4]) * 60.0
    threads = int(argv[5]) if len(argv) > 5 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)

    header = read_safetensors_header(template_path)
    meta = header["__metadata__"]
    v, e, h, layers = (int(meta[k])
                       for k in ("vocab_size", "embed_size", "hidden_size", "layers"))

    with open(pairs_path) as f:
        pairs = [(o["s"], o["t"]) for o in map(json.loads, f)]
    rng.shuffle(pairs)
    n_valid = int(len(pairs) * VALID_FRACTION)
    valid, train = pairs[:n_valid], pairs[n_valid:]
    if not valid or not train:
        raise SystemExit("%s: %d pairs; at least %d are needed to hold out %g%% of them "
                         "for validation and train on the rest"
                         % (pairs_path, len(pairs), math.ceil(1 / VALID_FRACTION),
                            VALID_FRACTION * 100))
    valid.sort(key=lambda p: (len(p[0]), len(p[1])))
    valid_batches = [make_batch(valid[i:i + BATCH]) for i in range(0, len(valid), BATCH)]
    print("torch %s, %d threads; %d training pairs, %d for validation; vocabulary %d, "
          "embedding %d, hidden %d, %d layers; %g minutes"
          % (torch.__version__, threads, len(train), len(valid), v, e, h, layers,
             limit_s / 60), flush=True)

    model = Seq2Seq(v, e, h, layers)
    model.train()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=0.99, eps=1e-8)
    lr_scale, step, epoch = 1.0, 0, 0
    best_loss, best_state, best_epoch = float("inf"), None, 0
    start = time.perf_counter()
    stopped = False
    tokens = 0

    while not stopped:
        order = train[:]
        rng.shuffle(order)
        chunk = BATCH * CHUNK_BATCHES
        for i in range(0, len(order), chunk):
            order[i:i + chunk] = sorted(order[i:i + chunk],
                                        key=lambda p: (len(p[0]), len(p[1])))
        batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
        rng.shuffle(batches)
        epoch_loss, epoch_tokens = 0.0, 0
        for rows in batches:
            lr = LR * lr_scale * (min(1.0, (step + 1) / WARMUP) if WARMUP else 1.0)
            for g in optimizer.param_groups:
                g["lr"] = lr
            batch = make_batch(rows)
            optimizer.zero_grad()
            loss, n = loss_of(model, batch, "mean")
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
            step += 1
            epoch_loss += float(loss) * n
            epoch_tokens += n
            tokens += sum(len(s) + len(t) + 1 for s, t in rows)
            if time.perf_counter() - start >= limit_s:
                stopped = True
                break
        if stopped:
            valid_loss = validate(model, valid_batches)
            print("stopped in epoch %d after %d steps: train loss %.4f, validation loss %.4f"
                  % (epoch + 1, step, epoch_loss / max(epoch_tokens, 1), valid_loss), flush=True)
            if valid_loss < best_loss:
                best_loss, best_epoch = valid_loss, epoch + 1
                best_state = copy.deepcopy(model.state_dict())
            break
        epoch += 1
        valid_loss = validate(model, valid_batches)
        elapsed = time.perf_counter() - start
        print("epoch %d: train loss %.4f, validation loss %.4f, %.0f s, %.0f tokens/s"
              % (epoch, epoch_loss / epoch_tokens, valid_loss, elapsed, tokens / elapsed),
              flush=True)
        if valid_loss < best_loss:
            best_loss, best_epoch = valid_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            lr_scale *= DECAY
        if elapsed >= limit_s:
            break

    elapsed = time.perf_counter() - start
    if best_state is None:
        raise SystemExit("%s not written: no validation loss was finite (the training "
                         "diverged)" % out_path)
    meta = dict(meta)
    meta["trainer"] = "pytorch %s (bench/compare_torch.py)" % torch.__version__
    meta["epochs_trained"] = str(best_epoch)
    meta["valid_loss"] = "%.6f" % best_loss
    meta.pop("train_loss", None)
    header["__metadata__"] = meta
    write_safetensors(out_path, header, best_state)
    print("torch_steps %d" % step)
    print("torch_tokens_per_s %.1f" % (tokens / elapsed))
    print("torch_valid_loss %.6f" % best_loss)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
