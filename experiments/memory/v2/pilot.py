"""Memory experiment v2, no-dropout pilots: choose the task size where capacity binds (issue 20 §1).

Task (multi-slot recall): K slots, each with its own S symbol ids, shown at steps 0..K-1, then T distractors drawn from
N other ids; after every distractor step the model names every slot's symbol (K linear heads on h(t)). Recall at lag l
= fraction of (sequence, slot) pairs named correctly l steps after the last symbol. Every pilot run is appended to
pilots.jsonl beside this file. One torch thread per process.

    python experiments/memory/v2/pilot.py --cells rnn gru lstm --hid 8 16 32 --slots 4 --seeds 0 1 2
"""
import argparse, json, os, sys, time
from datetime import datetime, timezone
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from awd_fastai.model import AWD_LSTM

LOG = Path(__file__).parent/'pilots.jsonl'

def slots_batch(bs, K, S, N, T, gen):
    "Tokens (bs, K+T) and targets (bs, K): slot k's symbol has id k*S + y_k; distractors have ids K*S..K*S+N-1."
    y = torch.randint(0, S, (bs, K), generator=gen)                                   # (bs, K)
    sym = y + S * torch.arange(K)                                                     # (bs, K)
    noise = torch.randint(K*S, K*S + N, (bs, T), generator=gen)                       # (bs, T)
    return torch.cat([sym, noise], 1), y

class SlotsNet(nn.Module):
    def __init__(self, cell, n_hid, K, S, N):
        super().__init__()
        V = K*S + N
        self.K, self.S = K, S
        self.rnn = AWD_LSTM(V+1, n_hid, n_hid, 1, pad_token=V, rnn_type=cell, hidden_p=0., input_p=0., embed_p=0., weight_p=0.)
        self.head = nn.Linear(n_hid, K*S)
    def forward(self, x):
        self.rnn.reset()
        h = self.rnn(x)[:, self.K:]                                                   # (bs, T, n_hid): after each distractor
        return self.head(h).unflatten(-1, (self.K, self.S))                           # (bs, T, K, S)

@torch.no_grad()
def recall(model, x, y):
    model.eval(); out = model(x); model.train()
    return (out.argmax(-1) == y[:, None]).float().mean((0, 2))                         # (T,)

def run(cell, n_hid, K, S, N, T, seed, steps, bs=64, lr=3e-3, track=50):
    t0 = time.time(); torch.manual_seed(seed)
    model = SlotsNet(cell, n_hid, K, S, N)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    xe, ye = slots_batch(1024, K, S, N, T, torch.Generator().manual_seed(10_000 + T))
    tr = []
    for step in range(steps):
        x, y = slots_batch(bs, K, S, N, T, gen)
        out = model(x)                                                               # (bs, T, K, S)
        loss = F.cross_entropy(out.flatten(0, 2), y[:, None].expand(-1, T, -1).flatten())
        opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.); opt.step()
        if (step+1) % track == 0: tr.append(round(float(recall(model, xe[:512], ye[:512])[-1]), 4))
    curve = recall(model, xe, ye)
    hit = next(((i+1)*track for i,v in enumerate(tr) if v >= 0.99), None)
    return dict(cell=cell, n_hid=n_hid, K=K, S=S, N=N, T=T, seed=seed, steps=steps, bs=bs, lr=lr, track=track,
                recall_T=round(float(curve[-1]), 4), recall_1=round(float(curve[0]), 4), steps_to_099=hit,
                recall_track=tr, loss=round(loss.item(), 4), seconds=round(time.time()-t0, 1))

if __name__ == '__main__':
    torch.set_num_threads(1)
    a = argparse.ArgumentParser()
    a.add_argument('--cells', nargs='+', default=['rnn', 'gru', 'lstm']); a.add_argument('--hid', nargs='+', type=int, default=[16])
    a.add_argument('--slots', nargs='+', type=int, default=[4]); a.add_argument('--S', type=int, default=8)
    a.add_argument('--N', type=int, default=8); a.add_argument('--T', type=int, default=50)
    a.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2]); a.add_argument('--steps', type=int, default=2000)
    a.add_argument('--note', default='')
    args = a.parse_args()
    for cell in args.cells:
        for h in args.hid:
            for K in args.slots:
                for s in args.seeds:
                    r = run(cell, h, K, args.S, args.N, args.T, s, args.steps)
                    r = dict(date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
                             command='python experiments/memory/v2/pilot.py ' + ' '.join(sys.argv[1:]), note=args.note,
                             threads=1, **r)
                    with open(LOG, 'a') as f: f.write(json.dumps(r) + '\n')
                    print(cell, h, K, s, r['recall_T'], r['steps_to_099'], r['seconds'], flush=True)
