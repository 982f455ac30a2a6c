"""The array workloads of `arrays.py` (issue 15), each beside its hand-written gradient.

Two recurrent networks written the way people write them in NumPy, with Python loops over time
(and layers), and the backpropagation a careful person writes by hand for each:

* `rnn_loss(W, U, xs, h0)`: a vanilla RNN, `h = tanh(W h + U x_t)` for every row `x_t` of
  `xs`, loss `Σ h²` of the last state. `rnn_backprop` is backpropagation through time: it keeps
  one array per step (the state `h`) and accumulates `W_bar += np.outer(...)` in place.
* `lstm_objective(main, extra, state, sequence)`: the LSTM of ADBench. Its weight matrices are
  diagonal: the gates of a layer are `concat(inp, hidden, inp, hidden) * weight + bias` (one
  row of `main` each), read as forget, input and output gates (sigmoid) and the candidate cell
  (tanh). `main` holds `(weight, bias)` row pairs for each layer, shape (2 layers, 4 hidden);
  `extra` the input scale, output scale and output bias, shape (3, hidden); `state` the initial
  `(hidden, cell)` row pair of each layer, shape (2 layers, hidden); `sequence` the items, shape
  (length, hidden). Each item, scaled by `extra[0]`, goes up through the layers; the top hidden
  state, scaled and shifted, is a prediction of the next item, whose loss is its log-softmax
  (ADBench's `log(Σ exp + 2)`) weighted by that next item. The objective is minus the mean over
  the items predicted and their entries. ADBench stacks the new state into an array every step;
  here it stays a list of rows. `lstm_backprop` keeps, per step and layer, the gate values with
  `tanh(cell)`, the cell and the hidden state, and per step the softmax of the prediction.

Both hand-written gradients return the gradient with respect to the weights only (`W, U`;
`main, extra`), as `adgen.grad(..., wrt=(0, 1))` does. `tests/test_array_workloads.py` checks
them against central differences and against adgen at small sizes.
"""

from __future__ import annotations

import math

import numpy as np

# --- a vanilla RNN ---------------------------------------------------------------------------


def rnn_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h * h)


def rnn_backprop(W, U, xs, h0):
    hs = [h0]
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
        hs.append(h)
    W_bar = np.zeros_like(W)
    U_bar = np.zeros_like(U)
    h_bar = 2.0 * hs.pop()
    for t in reversed(range(xs.shape[0])):
        z_bar = h_bar * (1.0 - h * h)
        h = hs.pop()
        W_bar += np.outer(z_bar, h)
        U_bar += np.outer(z_bar, xs[t])
        h_bar = W.T @ z_bar
    return W_bar, U_bar


def rnn_data(hidden, steps, inputs, seed=0):
    """`(W, U, xs, h0)`, scaled so that the state neither dies out nor saturates."""
    rng = np.random.default_rng(seed)
    W = 0.9 * rng.standard_normal((hidden, hidden)) / math.sqrt(hidden)
    U = rng.standard_normal((hidden, inputs)) / math.sqrt(inputs)
    xs = rng.standard_normal((steps, inputs))
    h0 = 0.5 * rng.standard_normal(hidden)
    return W, U, xs, h0


# --- the ADBench LSTM ------------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_cell(weight, bias, hidden, cell, inp):
    gates = np.concatenate((inp, hidden, inp, hidden)) * weight + bias
    n = hidden.shape[0]
    forget = sigmoid(gates[0:n])
    ingate = sigmoid(gates[n:2 * n])
    outgate = sigmoid(gates[2 * n:3 * n])
    change = np.tanh(gates[3 * n:])
    cell = cell * forget + ingate * change
    hidden = outgate * np.tanh(cell)
    return hidden, cell


def lstm_predict(main, extra, state, x):
    new_state = []
    x = x * extra[0]
    for i in range(0, len(state), 2):
        hidden, cell = lstm_cell(main[i], main[i + 1], state[i], state[i + 1], x)
        x = hidden
        new_state.append(hidden)
        new_state.append(cell)
    return x * extra[1] + extra[2], new_state


def lstm_objective(main, extra, state, sequence):
    state = [state[i] for i in range(state.shape[0])]
    total = 0.0
    count = 0
    for t in range(sequence.shape[0] - 1):
        ypred, state = lstm_predict(main, extra, state, sequence[t])
        ynorm = ypred - np.log(np.sum(np.exp(ypred)) + 2.0)
        total = total + np.sum(sequence[t + 1] * ynorm)
        count = count + sequence.shape[1]
    return -total / count


def _cell_forward(weight, bias, hidden, cell, inp):
    """One cell, keeping what its backward step reads: `(hidden, cell, acts)`, where `acts`
    holds the forget, input, output gates, the candidate and tanh(cell), one after another."""
    n = hidden.shape[0]
    gates = np.concatenate((inp, hidden, inp, hidden)) * weight + bias
    acts = np.empty(5 * n)
    acts[:3 * n] = sigmoid(gates[:3 * n])
    acts[3 * n:4 * n] = np.tanh(gates[3 * n:])
    cell = cell * acts[:n] + acts[n:2 * n] * acts[3 * n:4 * n]
    acts[4 * n:] = np.tanh(cell)
    return acts[2 * n:3 * n] * acts[4 * n:], cell, acts


def _cell_backward(weight, acts, cell_prev, hidden_prev, inp, hidden_bar, cell_bar):
    """The adjoints of one cell: `(weight_bar, bias_bar, inp_bar, hidden_prev_bar,
    cell_prev_bar)` from those of its new hidden state and cell."""
    n = cell_prev.shape[0]
    forget, ingate, outgate = acts[:n], acts[n:2 * n], acts[2 * n:3 * n]
    change, tanh_cell = acts[3 * n:4 * n], acts[4 * n:]
    cell_bar = cell_bar + hidden_bar * outgate * (1.0 - tanh_cell * tanh_cell)
    gates_bar = np.empty(4 * n)
    gates_bar[:n] = cell_bar * cell_prev * forget * (1.0 - forget)
    gates_bar[n:2 * n] = cell_bar * change * ingate * (1.0 - ingate)
    gates_bar[2 * n:3 * n] = hidden_bar * tanh_cell * outgate * (1.0 - outgate)
    gates_bar[3 * n:] = cell_bar * ingate * (1.0 - change * change)
    weight_bar = gates_bar * np.concatenate((inp, hidden_prev, inp, hidden_prev))
    joined_bar = gates_bar * weight
    inp_bar = joined_bar[:n] + joined_bar[2 * n:3 * n]
    hidden_prev_bar = joined_bar[n:2 * n] + joined_bar[3 * n:]
    return weight_bar, gates_bar, inp_bar, hidden_prev_bar, cell_bar * forget


def lstm_backprop(main, extra, state, sequence):
    layers, steps, count = state.shape[0] // 2, sequence.shape[0] - 1, sequence[1:].size
    hs = [[state[2 * k]] for k in range(layers)]  # hs[k][t]: hidden state of layer k before t
    cs = [[state[2 * k + 1]] for k in range(layers)]
    acts = [[] for _ in range(layers)]
    softmax = []
    for t in range(steps):
        x = sequence[t] * extra[0]
        for k in range(layers):
            x, cell, a = _cell_forward(main[2 * k], main[2 * k + 1], hs[k][t], cs[k][t], x)
            hs[k].append(x)
            cs[k].append(cell)
            acts[k].append(a)
        e = np.exp(x * extra[1] + extra[2])
        softmax.append(e / (np.sum(e) + 2.0))
    main_bar = np.zeros_like(main)
    extra_bar = np.zeros_like(extra)
    h_bar = [np.zeros_like(state[0]) for _ in range(layers)]  # from step t + 1
    c_bar = [np.zeros_like(state[0]) for _ in range(layers)]
    for t in reversed(range(steps)):
        ynorm_bar = sequence[t + 1] * (-1.0 / count)
        ypred_bar = ynorm_bar - np.sum(ynorm_bar) * softmax[t]
        extra_bar[1] += ypred_bar * hs[-1][t + 1]
        extra_bar[2] += ypred_bar
        x_bar = ypred_bar * extra[1]
        for k in reversed(range(layers)):
            inp = hs[k - 1][t + 1] if k else sequence[t] * extra[0]
            w_bar, b_bar, x_bar, h_bar[k], c_bar[k] = _cell_backward(
                main[2 * k], acts[k][t], cs[k][t], hs[k][t], inp, h_bar[k] + x_bar, c_bar[k])
            main_bar[2 * k] += w_bar
            main_bar[2 * k + 1] += b_bar
        extra_bar[0] += x_bar * sequence[t]
    return main_bar, extra_bar


def lstm_data(layers, hidden, length, seed=0):
    """`(main, extra, state, sequence)` in ADBench's shapes, weights of order one."""
    rng = np.random.default_rng(seed)
    main = rng.standard_normal((2 * layers, 4 * hidden))
    extra = rng.standard_normal((3, hidden))
    state = rng.standard_normal((2 * layers, hidden))
    sequence = rng.standard_normal((length, hidden))
    return main, extra, state, sequence
