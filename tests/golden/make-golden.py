#!/usr/bin/python3
"""make-golden.py: reference numbers for tests/test-golden.c, from PyTorch.

    /usr/bin/python3 tests/golden/make-golden.py OUTPUT.safetensors
        Builds parley's Seq2Seq model in PyTorch (nn.Embedding, nn.LSTM,
        nn.Linear, with the tensor names parley uses) at small sizes, runs
        the golden batch through it in float64, and writes the initial
        weights, the logits, the masked loss, every gradient, and the
        parameters after two RMSprop steps and after two Adam steps (after
        gradient clipping) as a safetensors file.

    /usr/bin/python3 tests/golden/make-golden.py --check MODEL GOLDEN
        Loads a model file written by parley into the same PyTorch model
        (load_state_dict with strict=True), computes the golden batch's loss
        and compares it with GOLDEN's.  Exit 0 when they agree.

Debian's python3-torch provides torch for /usr/bin/python3.  The
safetensors files are read and written here by hand (8-byte length, JSON
header, little-endian float32), so nothing else is needed.
"""
import json
import struct
import sys

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

V, E, H, L = 11, 5, 7, 2
PAD, START, END = 0, 1, 2
SEED = 20240601

# Prompts and replies as token ids (replies without START/END); lengths
# differ so padding matters, and the rows are not sorted by length.
PROMPTS = [[4, 5, 6, 7], [8, 9, 10, 4, 5, 6], [7, 3]]
REPLIES = [[5, 6, 7, 8], [9, 10], [4, 4, 5, 6, 7]]
VOCABULARY = ["<pad>", "<s>", "</s>", "<unk>", "a", "b", "c", "d", "e", "f", "g"]

LEARNING_RATE = 0.01
# Clip to half the gradient's norm so clipping is exercised.
CLIP_FRACTION = 0.5


class Encoder(nn.Module):
    def __init__(self, v, e, h, layers):
        super().__init__()
        self.embedding = nn.Embedding(v, e)
        self.lstm = nn.LSTM(e, h, layers)


class Decoder(nn.Module):
    def __init__(self, v, e, h, layers):
        super().__init__()
        self.embedding = nn.Embedding(v, e)
        self.lstm = nn.LSTM(e, h, layers)
        self.out = nn.Linear(h, v)


class Seq2Seq(nn.Module):
    def __init__(self, v, e, h, layers):
        super().__init__()
        self.encoder = Encoder(v, e, h, layers)
        self.decoder = Decoder(v, e, h, layers)

    def forward(self, source, source_lengths, target_input):
        """source [Ts, B], target_input [Td, B] -> logits [Td, B, V].

        The encoder runs on a packed sequence, so its final state is each
        row's state after its own last token; the decoder starts from it."""
        embedded = self.encoder.embedding(source)
        packed = pack_padded_sequence(embedded, source_lengths, enforce_sorted=False)
        _, state = self.encoder.lstm(packed)
        output, _ = self.decoder.lstm(self.decoder.embedding(target_input), state)
        return self.decoder.out(output)


def make_batch():
    """Time-major padded tensors, as parley's struct seq2seq_batch."""
    b = len(PROMPTS)
    ts = max(len(p) for p in PROMPTS)
    td = max(len(r) for r in REPLIES) + 1
    source = torch.full((ts, b), PAD, dtype=torch.long)
    target_input = torch.full((td, b), PAD, dtype=torch.long)
    target_output = torch.full((td, b), PAD, dtype=torch.long)
    for i, (p, r) in enumerate(zip(PROMPTS, REPLIES)):
        source[: len(p), i] = torch.tensor(p)
        target_input[: len(r) + 1, i] = torch.tensor([START] + r)
        target_output[: len(r) + 1, i] = torch.tensor(r + [END])
    source_lengths = torch.tensor([len(p) for p in PROMPTS])
    target_lengths = torch.tensor([len(r) + 1 for r in REPLIES])
    mask = torch.arange(td).unsqueeze(1) < target_lengths.unsqueeze(0)
    return source, source_lengths, target_input, target_output, target_lengths, mask


def masked_loss(logits, target_output, mask):
    """Cross-entropy averaged over the real target tokens."""
    return nn.functional.cross_entropy(logits[mask], target_output[mask])


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        values = t.detach().to(torch.float32).flatten().tolist()
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError("%s: tensor %s is %s, not F32" % (path, name, entry["dtype"]))
        begin, end = entry["data_offsets"]
        blob = data[8 + n + begin : 8 + n + end]
        values = struct.unpack("<%df" % (len(blob) // 4), blob)
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(entry["shape"])
    return tensors, metadata


def optimizer_steps(model, grads, make_optimizer, prefix, out):
    """Two steps from the initial weights with the same (clipped) gradients;
    the parameters after each go to out under prefix.step1/step2."""
    params = {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}
    optimizer = make_optimizer(list(params.values()))
    for step in (1, 2):
        for name, p in params.items():
            p.grad = grads[name].clone()
        optimizer.step()
        for name, p in params.items():
            out["%s.step%d.%s" % (prefix, step, name)] = p.detach().clone()


def generate(path):
    torch.manual_seed(SEED)
    model = Seq2Seq(V, E, H, L)  # PyTorch's default initialisation, float32
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    model = model.double()

    source, source_lengths, target_input, target_output, target_lengths, mask = make_batch()
    logits = model(source, source_lengths, target_input)
    loss = masked_loss(logits, target_output, mask)
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}

    grad_norm = torch.sqrt(sum((g * g).sum() for g in grads.values())).item()
    max_norm = CLIP_FRACTION * grad_norm
    clipped = {name: g.clone() for name, g in grads.items()}
    factor = max_norm / (grad_norm + 1e-6)
    for g in clipped.values():
        g.mul_(factor)

    out = dict(initial)
    out.update({"grad." + name: g for name, g in grads.items()})
    optimizer_steps(model, clipped, lambda p: torch.optim.RMSprop(p, lr=LEARNING_RATE),
                    "rmsprop", out)
    optimizer_steps(model, clipped, lambda p: torch.optim.Adam(p, lr=LEARNING_RATE),
                    "adam", out)
    out["logits"] = logits.detach()
    out["input.source"] = source.double()
    out["input.source_lengths"] = source_lengths.double()
    out["input.target_input"] = target_input.double()
    out["input.target_output"] = target_output.double()
    out["input.target_lengths"] = target_lengths.double()

    metadata = {
        "format": "parley-seq2seq",
        "format_version": "1",
        "vocab_size": str(V),
        "embed_size": str(E),
        "hidden_size": str(H),
        "layers": str(L),
        "vocabulary": json.dumps(VOCABULARY),
        "loss": repr(loss.item()),
        "grad_norm": repr(grad_norm),
        "max_norm": repr(max_norm),
        "learning_rate": repr(LEARNING_RATE),
        "rmsprop": "alpha 0.99, eps 1e-8 (torch.optim.RMSprop defaults)",
        "adam": "betas (0.9, 0.999), eps 1e-8 (torch.optim.Adam defaults)",
        "generator": "tests/golden/make-golden.py, torch " + torch.__version__,
    }
    write_safetensors(path, out, metadata)
    print("%s: loss %.9f, gradient norm %.6f" % (path, loss.item(), grad_norm))


def check(model_path, golden_path):
    tensors, metadata = read_safetensors(model_path)
    if metadata.get("format") != "parley-seq2seq":
        print("%s: not a parley model" % model_path)
        return 1
    v, e, h, layers = (int(metadata[k]) for k in ("vocab_size", "embed_size", "hidden_size",
                                                  "layers"))
    model = Seq2Seq(v, e, h, layers)
    model.load_state_dict(tensors, strict=True)
    model = model.double()

    _, golden_metadata = read_safetensors(golden_path)
    source, source_lengths, target_input, target_output, _, mask = make_batch()
    with torch.no_grad():
        loss = masked_loss(model(source, source_lengths, target_input), target_output,
                           mask).item()
    expected = float(golden_metadata["loss"])
    ok = abs(loss - expected) <= 1e-5 * max(1.0, abs(expected))
    print("%s: loaded into PyTorch, golden loss %.9f, expected %.9f: %s"
          % (model_path, loss, expected, "ok" if ok else "MISMATCH"))
    return 0 if ok else 1


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("-"):
        generate(argv[1])
        return 0
    if len(argv) == 4 and argv[1] == "--check":
        return check(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
