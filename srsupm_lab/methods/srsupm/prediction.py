"""Mixed prediction over shift representations (method.md §8 / Eqs. 19–22) and the w/o-PMI mean pooling.

For every candidate item ``i`` (embedding ``e_i``), in parallel over all items:

    β_{u,i,k} = softmax_k( ⟨e_i, ẑ_k⟩ / √d )
    s_{u,i}   = Σ_k β_{u,i,k} ⟨ẑ_k, e_i⟩

Only the logits ``Ẑ Eᵀ`` are formed, in blocks (of users for inference, of items for training); the
(B, N, d) tensor ``r_{u,i}`` of Eq. 21 never is.

``fused=True`` (inference only) runs the same arithmetic through ``torch.compile``: the
softmax over levels, the weighting and the sum become one pass over the logits instead of
four, which is what the mixture costs beyond its K-fold matmul (the paper's Table 2 overhead).

Training backpropagates through the mixture with its closed-form derivative (:class:`MixtureGrad`)
instead of autograd's step-by-step chain: with ``l_k = ⟨ẑ_k, e_i⟩``, scale ``c`` and
``s = Σ_k β_k l_k``,

    ∂s/∂l_k = β_k (1 + c (l_k − s))          ∂s/∂c = Σ_k β_k l_k (l_k − s)

(differentiate ``β_k = softmax_k(c l)``: ``∂β_j/∂l_k = c β_j (δ_jk − β_k)``), so the backward pass is
one elementwise pass over the logits and two matmuls, chunk by chunk of items (the forward too).

:func:`mixed_cross_entropy` is ``F.cross_entropy(mixed_scores(...), targets)`` (L_rec, Eq. 24) in the
same chunks: its backward forms ``∂L/∂s = (softmax(s) − onehot)/B`` chunk by chunk and feeds it
straight to the mixture's, instead of materialising the (B, N) log-probabilities and gradient
(``benchmarks/bench_mixture.py`` times both).
"""
from __future__ import annotations

import math

import torch


def _check(Z: torch.Tensor, E: torch.Tensor, who: str) -> None:
    if Z.dim() != 3 or E.dim() != 2 or Z.shape[2] != E.shape[1]:
        raise ValueError(f"{who}: expected Z (B, K, d) and E (N, d), got {tuple(Z.shape)} and {tuple(E.shape)}")


#: On the CPU, mixed_scores works on chunks of items (blocks of users with fused=True) whose
#: (K, B, cols) float32 intermediates fit in about this many bytes (a core's L2 cache): several times
#: faster than one pass over a whole evaluation batch; smaller blocks give the same training step, larger
#: ones a slower one (``benchmarks/bench_mixture.py``).
CPU_BLOCK_BYTES = 2 ** 21


def mixed_scores(Z: torch.Tensor, E: torch.Tensor, scale: float | torch.Tensor | None = None,
                 fused: bool = False) -> torch.Tensor:
    """PMI scores ``s`` (B, N) from shift representations ``Z`` (B, K, d) and item table ``E`` (N, d).

    ``s_{u,i} = Σ_k softmax_k(⟨ẑ_k, e_i⟩·scale) ⟨ẑ_k, e_i⟩`` (Eqs. 19–22) with ``scale = 1/√d`` (the
    paper) unless given (a float or a 0-dim tensor, see :mod:`srsupm_lab.methods.srsupm.temperature`). On the CPU
    the items are processed in chunks whose (K, B, cols) logits fit in ``CPU_BLOCK_BYTES`` (a core's
    L2 cache), so that the K-wise softmax and the sum run in cache (:class:`MixtureGrad` when
    gradients are needed, the same forward keeping nothing otherwise); ``benchmarks/bench_mixture.py``
    times it against blocks of users and a bare (B·K, d) × (d, N) matmul.

    ``fused=True`` computes blocks of users with the ``torch.compile``d kernel (module docstring): the
    same scores up to float rounding, for inference under ``torch.no_grad()`` (training keeps the
    eager path). The first call per input shape compiles (seconds); it needs torch's inductor
    backend (a C++ compiler on the CPU, Triton on a GPU).
    """
    _check(Z, E, "mixed_scores")
    B, K, N = Z.shape[0], Z.shape[1], E.shape[0]
    scale = 1.0 / math.sqrt(Z.shape[2]) if scale is None else scale
    training = torch.is_grad_enabled() and (Z.requires_grad or E.requires_grad or torch.is_tensor(scale)
                                            and scale.requires_grad)
    if not fused:
        if training:
            return MixtureGrad.apply(Z, E, scale)                       # chunks of items, closed-form backward
        return _chunked_mixture(Z, E, scale)                            # chunks of items, nothing kept
    if training:
        raise ValueError("mixed_scores: fused=True is for inference; call it under torch.no_grad() "
                         "(training uses the eager mixture)")
    rows = B if Z.device.type != "cpu" else max(1, CPU_BLOCK_BYTES // (4 * K * max(N, 1)))
    if rows >= B:
        return _fused_block(Z, E, scale)
    return torch.cat([_fused_block(Z[s:s + rows], E, scale) for s in range(0, B, rows)])   # (B, N)


def _mixed_block(Z: torch.Tensor, E: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    logits = torch.einsum("bkd,nd->bkn", Z, E)                          # (b, K, N) = Ẑ Eᵀ
    beta = torch.softmax(logits * scale, dim=1)                         # (b, K, N) over levels
    return (beta * logits).sum(dim=1)                                   # (b, N)


def _item_chunk(B: int, K: int, N: int, device: torch.device) -> int:
    """Items per chunk of the training mixture: on the CPU, as many as keep a (B, K, chunk) float32
    block within ``CPU_BLOCK_BYTES``; elsewhere all of them (a GPU streams the whole (B, K, N) at once)."""
    if device.type != "cpu":
        return max(N, 1)
    return max(1, min(N, CPU_BLOCK_BYTES // (4 * max(B * K, 1))))


def _fold(scale: float | torch.Tensor) -> tuple[float | torch.Tensor, float | None]:
    """``(fold, ratio)``: the factor applied to Ẑ before the matmul (the scale itself, except 1 for a
    float scale of 0) and what the softmax's input still needs (None, or the scale over ``fold``).
    A tensor scale must be non-zero (:mod:`srsupm_lab.methods.srsupm.temperature`'s are > 0)."""
    if torch.is_tensor(scale) or scale != 0:
        return scale, None
    return 1.0, float(scale)


def _chunked_mixture(Z: torch.Tensor, E: torch.Tensor, scale: float | torch.Tensor,
                     scaled: list | None = None, betas: list | None = None) -> torch.Tensor:
    """Scores (B, N) of Eqs. 19–22 chunk by chunk of items (:class:`MixtureGrad`'s forward); the chunks of
    ``c·l`` (K, B, cols) and ``β`` are appended to ``scaled`` and ``betas`` when given (for a backward).
    A scale of exactly 0 (a float: uniform β, the levels' mean) is not folded into Ẑ (see :func:`_fold`)."""
    B, K, d = Z.shape
    N = E.shape[0]
    step = _item_chunk(B, K, N, Z.device)
    fold, ratio = _fold(scale)
    # levels outermost, (K·B, d) = c ẑ: the matmul gives c·l as (K, B, cols), whose softmax over the
    # first dimension runs along contiguous rows (1.6x faster than over the middle one of (B, K, cols))
    Zc = (Z.transpose(0, 1) * fold).reshape(K * B, d)
    s = None
    for n0 in range(0, N, step):
        cl = torch.mm(Zc, E[n0:n0 + step].t()).view(K, B, -1)          # (K, B, cols) = c · Ẑ E_chunkᵀ
        beta = torch.softmax(cl if ratio is None else cl * ratio, dim=0)   # (K, B, cols) over levels
        cs = torch.linalg.vecdot(beta, cl, dim=0)                       # (B, cols) = c · s
        if s is None:                                                   # one (B, N) output, written chunk by chunk
            s = cs.new_empty(B, N)
        torch.div(cs, fold, out=s[:, n0:n0 + cl.shape[2]])
        if scaled is not None:
            scaled.append(cl)
            betas.append(beta)
    return s


class MixtureGrad(torch.autograd.Function):
    """The training mixture (Eqs. 19–22) with the closed-form backward of the module docstring, in chunks
    of items.

    Forward, per chunk of items (``CPU_BLOCK_BYTES`` of (K, B, cols) float32 logits on the CPU, so that
    everything after the matmul runs in cache; all items at once on a GPU): one matmul of the scaled
    ``c Ẑ`` (levels outermost) by the chunk's item rows gives ``c·l``; its softmax over levels and the
    weighted sum ``c·s = Σ_k β_k (c l_k)`` follow, and ``s`` is written into its columns of the one
    (B, N) output. The scale is thus applied to the (B·K, d) representations, not to the (B, K, N)
    logits; no (B, K, N) tensor is ever formed, only chunks, and no (B, N) intermediate but the output.
    Saved for the backward: the chunks of ``c·l`` and of ``β``.

    Backward, per chunk: ``∂L/∂l = g β (1 + c (l − s))`` by three in-place passes over ``c (l − s)``,
    then ``∂L/∂Ẑ`` accumulated by one matmul and the chunk's rows of ``∂L/∂E`` written by another (each
    item row belongs to one chunk: no (N, d) accumulation), and ``∂L/∂c = Σ g β l (l − s)`` for a
    learned scale. No host syncs (``benchmarks/bench_mixture.py`` times forward + backward against the
    blocks-of-users version and the three matmuls alone). ``tests/test_prediction.py`` and
    ``tests/test_srsupm.py`` check it against a float64 autograd recomputation, finite differences,
    and under bf16 autocast. On a GPU the backward runs under the forward's autocast state
    (``custom_fwd``/``custom_bwd``), as autograd's own would.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, Z: torch.Tensor, E: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
        scaled, betas = [], []
        s = _chunked_mixture(Z, E, scale, scaled, betas)
        ctx.save_for_backward(Z, E, s, scale if torch.is_tensor(scale) else None, *scaled, *betas)
        ctx.scale = scale
        return s

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, g: torch.Tensor):
        Z, E, s, scale_t, *saved = ctx.saved_tensors
        c = scale_t if scale_t is not None else ctx.scale
        return _mixture_backward(Z, E, s, c, scale_t, saved, ctx.needs_input_grad[:3],
                                 lambda n0, n1, dtype: g[:, n0:n1].to(dtype))


def _mixture_backward(Z, E, s, c, scale_t, saved, needs, grad_of_scores):
    """``(∂L/∂Ẑ, ∂L/∂E, ∂L/∂c)`` from the saved chunks (``c·l`` then ``β``), given ``∂L/∂s`` chunk by chunk:
    ``grad_of_scores(n0, n1, dtype)`` returns its (B, n1 − n0) columns (module doc, :class:`MixtureGrad`)."""
    chunks = len(saved) // 2
    scaled, betas = saved[:chunks], saved[chunks:]
    fold, ratio = _fold(c)
    B, K, d = Z.shape
    need_Z, need_E, need_c = needs
    # under autocast the saved logits may be bf16 and Ẑ, E float32: work in at least float32,
    # return each gradient in its input's dtype
    dtype = torch.promote_types(torch.promote_types(scaled[0].dtype, s.dtype), torch.float32)
    Zk = Z.transpose(0, 1).reshape(K * B, d).to(dtype)                 # (K·B, d), levels outermost
    Ed = E.to(dtype)
    g_Zk = Zk.new_zeros(K * B, d) if need_Z and chunks > 1 else None
    g_E = Ed.new_empty(E.shape) if need_E and chunks > 1 else None
    g_c = torch.zeros((), dtype=dtype, device=Z.device) if need_c else None
    n0 = 0
    for cl, beta in zip(scaled, betas):
        n1 = n0 + cl.shape[2]
        gc = grad_of_scores(n0, n1, dtype)                              # (B, cols), broadcast over levels
        centred = cl.to(dtype) - s[:, n0:n1].to(dtype) * fold           # (K, B, cols) = c (l_k − s)
        if ratio is not None:                                           # scale 0: fold 1, c (l − s) = 0 · (l − s)
            centred.mul_(ratio)
        beta = beta.to(dtype)
        if need_c:                                                      # ∂s/∂c = Σ_k β l (l − s) = Σ_k β (cl)(c(l − s)) / c²
            g_c = g_c + (beta * cl * centred * gc).sum() / (c * c)
        dl = centred.add_(1.0).mul_(beta).mul_(gc).view(K * B, -1)      # ∂L/∂l = g β (1 + c (l − s)), (K·B, cols)
        if chunks == 1:                                                 # a GPU: plain matmuls, which autocast
            g_Zk = torch.mm(dl, Ed) if need_Z else None                 # runs in bf16 (out= and in-place
            g_E = torch.mm(dl.t(), Zk) if need_E else None              # variants it would not)
        else:
            if need_Z:
                g_Zk.addmm_(dl, Ed[n0:n1])                               # Σ over chunks
            if need_E:
                torch.mm(dl.t(), Zk, out=g_E[n0:n1])                    # this chunk's rows of ∂L/∂E
        n0 = n1
    g_Z = g_Zk.view(K, B, d).transpose(0, 1).to(Z.dtype) if need_Z else None
    g_E = g_E.to(E.dtype) if need_E else None
    g_c = g_c.reshape(scale_t.shape).to(scale_t.dtype) if need_c else None
    return g_Z, g_E, g_c


class MixtureCrossEntropy(torch.autograd.Function):
    """:func:`mixed_cross_entropy`: the mean cross-entropy over the mixed scores, forward and backward in
    the mixture's chunks of items. The forward is :class:`MixtureGrad`'s plus one log-sum-exp over the
    (B, N) scores; the backward forms ``∂L/∂s = (softmax_i(s) − onehot) / B`` chunk by chunk, in cache,
    and feeds it to the mixture's backward: no (B, N) log-probabilities nor (B, N) gradient."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, Z: torch.Tensor, E: torch.Tensor, scale: float | torch.Tensor, targets: torch.Tensor):
        scaled, betas = [], []
        s = _chunked_mixture(Z, E, scale, scaled, betas)                # (B, N)
        lse = torch.logsumexp(s, dim=1)                                 # (B,)
        loss = (lse - s.gather(1, targets.unsqueeze(1)).squeeze(1)).mean()
        ctx.save_for_backward(Z, E, s, lse, targets, scale if torch.is_tensor(scale) else None, *scaled, *betas)
        ctx.scale = scale
        return loss

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, g: torch.Tensor):
        Z, E, s, lse, targets, scale_t, *saved = ctx.saved_tensors
        c = scale_t if scale_t is not None else ctx.scale
        B = s.shape[0]
        weight = g / B                                                  # d mean / d row

        def grad_of_scores(n0, n1, dtype):
            p = torch.exp(s[:, n0:n1].to(dtype) - lse.to(dtype).unsqueeze(1))   # softmax over items, (B, cols)
            here = (targets >= n0) & (targets < n1)                     # rows whose target is in this chunk
            p.scatter_add_(1, (targets - n0).clamp(0, n1 - n0 - 1).unsqueeze(1), -here.to(dtype).unsqueeze(1))
            return p.mul_(weight.to(dtype))

        return (*_mixture_backward(Z, E, s, c, scale_t, saved, ctx.needs_input_grad[:3], grad_of_scores), None)


def mixed_cross_entropy(Z: torch.Tensor, E: torch.Tensor, targets: torch.Tensor,
                        scale: float | torch.Tensor | None = None) -> torch.Tensor:
    """``F.cross_entropy(mixed_scores(Z, E, scale), targets)`` (the mean over the batch; ``targets`` (B,)
    are item classes 0..N−1), computed in the mixture's chunks of items (:class:`MixtureCrossEntropy`)
    when gradients are needed: the same value and gradients up to float rounding, without the (B, N)
    log-probabilities and gradient of ``F.cross_entropy``. L_rec of Eq. 24 for +SRSUPM with PMI."""
    _check(Z, E, "mixed_cross_entropy")
    if targets.shape != (Z.shape[0],) or targets.dtype.is_floating_point:
        raise ValueError(f"mixed_cross_entropy: targets must be ({Z.shape[0]},) integer item classes, got "
                         f"{tuple(targets.shape)} {targets.dtype}")
    scale = 1.0 / math.sqrt(Z.shape[2]) if scale is None else scale
    if torch.is_grad_enabled() and (Z.requires_grad or E.requires_grad or torch.is_tensor(scale)
                                    and scale.requires_grad):
        return MixtureCrossEntropy.apply(Z, E, scale, targets.long())
    return torch.nn.functional.cross_entropy(_chunked_mixture(Z, E, scale), targets.long())


_COMPILED = None


def _fused_block(Z: torch.Tensor, E: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """:func:`_mixed_block` compiled once per process (``torch.compile``; recompiles per new shape)."""
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = torch.compile(_mixed_block)
    from torch._dynamo.exc import BackendCompilerFailed
    try:
        return _COMPILED(Z, E, scale)
    except BackendCompilerFailed as err:                        # no compiler, no Triton, ...
        raise RuntimeError(f"mixed_scores(fused=True): torch.compile could not build the fused mixture on "
                           f"{Z.device.type} ({type(err).__name__}: {str(err).splitlines()[0]}); it needs the "
                           f"inductor backend (a C++ compiler on the CPU, Triton on a GPU). Use fused=False.") from err


def mean_scores(Z: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """w/o PMI: ``s = ⟨mean_k ẑ_k, e_i⟩`` (B, N)."""
    _check(Z, E, "mean_scores")
    return Z.mean(dim=1) @ E.t()                                        # (B, N)
