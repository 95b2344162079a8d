#!/usr/bin/python3
"""train_torch.py: PyTorch's training throughput on the batches parley timed.

    /usr/bin/python3 bench/train_torch.py BATCHES.json [THREADS]

BATCHES.json comes from bench/bench-train: a list of batches, each with the
"source" and "target" token ids of its rows.  The model is parley's
(tests/golden/make-golden.py builds the same one): embeddings 256, two LSTM
layers of 256 in encoder and decoder, the encoder packed so its final state
is each row's own, dropout 0.2 on embeddings and between layers, a dense
layer over the vocabulary, masked cross-entropy, gradient clipping at 5 and
RMSprop, in float32 on torch.set_num_threads(THREADS) (default 2).  Three
untimed steps, then every batch once.  Prints tokens/s counted as parley
counts them: real source tokens plus target tokens with END.
"""
import json
import sys
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

V, E, H, L = 10000, 256, 256, 2
PAD, START, END = 0, 1, 2
DROPOUT = 0.2
WARMUP_STEPS = 3


class Seq2Seq(nn.Module):
    def __init__(self, v):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(v, E)
        self.encoder.lstm = nn.LSTM(E, H, L, dropout=DROPOUT)
        self.decoder = nn.Module()
        self.decoder.embedding = nn.Embedding(v, E)
        self.decoder.lstm = nn.LSTM(E, H, L, dropout=DROPOUT)
        self.decoder.out = nn.Linear(H, v)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, source, source_lengths, target_input):
        embedded = self.dropout(self.encoder.embedding(source))
        packed = pack_padded_sequence(embedded, source_lengths, enforce_sorted=False)
        _, state = self.encoder.lstm(packed)
        output, _ = self.decoder.lstm(self.dropout(self.decoder.embedding(target_input)), state)
        return self.decoder.out(output)


def tensors(batch):
    b = len(batch["source"])
    ts = max(len(s) for s in batch["source"])
    td = max(len(t) for t in batch["target"]) + 1
    source = torch.full((ts, b), PAD, dtype=torch.long)
    target_input = torch.full((td, b), PAD, dtype=torch.long)
    target_output = torch.full((td, b), PAD, dtype=torch.long)
    for i, (s, t) in enumerate(zip(batch["source"], batch["target"])):
        source[: len(s), i] = torch.tensor(s)
        target_input[: len(t) + 1, i] = torch.tensor([START] + t)
        target_output[: len(t) + 1, i] = torch.tensor(t + [END])
    source_lengths = torch.tensor([len(s) for s in batch["source"]])
    target_lengths = torch.tensor([len(t) + 1 for t in batch["target"]])
    mask = torch.arange(td).unsqueeze(1) < target_lengths.unsqueeze(0)
    tokens = int(source_lengths.sum() + target_lengths.sum())
    return source, source_lengths, target_input, target_output, mask, tokens


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    threads = int(argv[2]) if len(argv) > 2 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    with open(argv[1]) as f:
        batches = [tensors(b) for b in json.load(f)]
    vocab = max(max(int(x[0].max()), int(x[2].max())) for x in batches) + 1
    model = Seq2Seq(max(vocab, V))
    model.train()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

    def step(b):
        source, source_lengths, target_input, target_output, mask, _ = b
        optimizer.zero_grad()
        logits = model(source, source_lengths, target_input)
        loss = nn.functional.cross_entropy(logits[mask], target_output[mask])
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    for b in batches[:WARMUP_STEPS]:
        step(b)

    start = time.perf_counter()
    tokens = 0
    for b in batches:
        step(b)
        tokens += b[5]
    elapsed = time.perf_counter() - start

    print("torch %s: %d threads, %d steps, %.0f tokens/s, %.1f ms/step"
          % (torch.__version__, threads, len(batches), tokens / elapsed,
             elapsed / len(batches) * 1e3))
    print("torch_tokens_per_s %.1f" % (tokens / elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
