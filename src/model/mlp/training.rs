//! Training one network with candle on the CPU: the loss (pinball on the
//! three quantiles, cross-entropy on the class), AdamW, early stopping on
//! the validation slice and the moving average of the weights kept outside
//! the autograd graph. See the parent module for what the outputs mean.

use super::*;

/// Tensors every member trains and validates on.
pub(super) struct TrainData {
    pub(super) x_fit: Tensor,
    pub(super) y_fit: Tensor,
    pub(super) c_fit: Tensor,
    pub(super) x_val: Tensor,
    pub(super) y_val: Tensor,
    pub(super) c_val: Tensor,
}

/// Trains one network of the given layer `sizes` from `seed` and returns
/// its layers at the best validation epoch (weights `1 × n_out × n_in`,
/// biases `1 × 1 × n_out`: the leading member dimension the ensemble is
/// concatenated along), with that epoch.
pub(super) fn train_network(
    data: &TrainData,
    sizes: &[usize],
    seed: u64,
    cfg: &MlpConfig,
    progress: &mut dyn FnMut(EpochProgress),
) -> Result<(Snapshot, usize), MlpError> {
    let TrainData {
        x_fit,
        y_fit,
        c_fit,
        x_val,
        y_val,
        c_val,
    } = data;
    let n_fit = x_fit.dims2()?.0;
    // Seeded He-uniform initialisation for ReLU layers.
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut vars: Vec<(Var, Var)> = Vec::new();
    for win in sizes.windows(2) {
        let (n_in, n_out) = (win[0], win[1]);
        let bound = (6.0 / n_in as f64).sqrt() as f32;
        let w: Vec<f32> = (0..n_in * n_out)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        let w = Var::from_tensor(&Tensor::from_vec(w, (1, n_out, n_in), &dev)?)?;
        let b = Var::from_tensor(&Tensor::zeros((1, 1, n_out), DType::F32, &dev)?)?;
        vars.push((w, b));
    }
    let mut opt = AdamW::new(
        vars.iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;

    let mut order: Vec<u32> = (0..n_fit as u32).collect();
    let batch = cfg.batch_size.max(1);
    let tracked = |vars: &[(Var, Var)]| -> Snapshot {
        vars.iter()
            .map(|(w, b)| (w.as_tensor().clone(), b.as_tensor().clone()))
            .collect()
    };
    let decay = cfg.ema_decay.clamp(0.0, 0.9999);
    // Detached: the average must not join the autograd graph, or every
    // step's tensors would stay alive through it.
    let mut ema: Option<Snapshot> = if decay > 0.0 {
        Some(
            vars.iter()
                .map(|(w, b)| {
                    Ok((
                        w.as_tensor().copy()?.detach(),
                        b.as_tensor().copy()?.detach(),
                    ))
                })
                .collect::<Result<Vec<_>, candle_core::Error>>()?,
        )
    } else {
        None
    };
    let mut best: Option<(f64, usize, Snapshot)> = None;
    for epoch in 1..=cfg.epochs_max.max(1) {
        order.shuffle(&mut rng);
        let mut train_loss = 0.0;
        let mut batches = 0usize;
        for chunk in order.chunks(batch) {
            let idx = Tensor::from_slice(chunk, chunk.len(), &dev)?;
            let xb = x_fit.index_select(&idx, 0)?;
            let yb = y_fit.index_select(&idx, 0)?;
            let cb = c_fit.index_select(&idx, 0)?;
            let loss = loss(
                &forward_t(&tracked(&vars), &xb)?,
                &yb,
                &cb,
                cfg.class_weight,
            )?;
            opt.backward_step(&loss)?;
            if let Some(ema) = ema.as_mut() {
                for ((ew, eb), (w, b)) in ema.iter_mut().zip(&vars) {
                    *ew = (ew.affine(decay, 0.0)?
                        + w.as_tensor().detach().affine(1.0 - decay, 0.0)?)?
                    .detach();
                    *eb = (eb.affine(decay, 0.0)?
                        + b.as_tensor().detach().affine(1.0 - decay, 0.0)?)?
                    .detach();
                }
            }
            train_loss += f64::from(loss.to_scalar::<f32>()?);
            batches += 1;
        }
        let current = match &ema {
            Some(ema) => ema.clone(),
            None => tracked(&vars),
        };
        let val = f64::from(
            loss(&forward_t(&current, x_val)?, y_val, c_val, cfg.class_weight)?
                .to_scalar::<f32>()?,
        );
        if best.as_ref().is_none_or(|b| val < b.0) {
            let snapshot = current
                .iter()
                .map(|(w, b)| Ok((w.copy()?.detach(), b.copy()?.detach())))
                .collect::<Result<Vec<_>, candle_core::Error>>()?;
            best = Some((val, epoch, snapshot));
        }
        let best_epoch = best.as_ref().map_or(epoch, |b| b.1);
        progress(EpochProgress {
            epoch,
            epochs_max: cfg.epochs_max,
            train_loss: train_loss / batches.max(1) as f64,
            validation_loss: val,
            best_epoch,
        });
        if epoch - best_epoch >= cfg.patience.max(1) {
            break;
        }
    }
    best.map(|(_, epoch, layers)| (layers, epoch))
        .ok_or(MlpError::TooFew(n_fit))
}

/// Candle forward pass for training: `x` is `n × d`, the layers carry the
/// leading member dimension (of 1, see [`train_network`]), the result is
/// `n × outputs`.
pub(super) fn forward_t(layers: &[(Tensor, Tensor)], x: &Tensor) -> candle_core::Result<Tensor> {
    let mut h = x.unsqueeze(0)?;
    for (i, (w, b)) in layers.iter().enumerate() {
        h = h.broadcast_matmul(&w.t()?)?.broadcast_add(b)?;
        if i + 1 < layers.len() {
            h = h.relu()?;
        }
    }
    let (members, n, outputs) = h.dims3()?;
    h.reshape((members * n, outputs))
}

pub(super) fn softplus_t(x: &Tensor) -> candle_core::Result<Tensor> {
    x.relu()? + x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?
}

pub(super) fn pinball(q: &Tensor, y: &Tensor, tau: f64) -> candle_core::Result<Tensor> {
    let d = (y - q)?;
    (&d * tau)?.maximum(&(&d * (tau - 1.0))?)?.mean_all()
}

/// Pinball losses of the three quantiles plus weighted class cross-entropy.
pub(super) fn loss(
    out: &Tensor,
    y: &Tensor,
    c: &Tensor,
    class_weight: f64,
) -> candle_core::Result<Tensor> {
    let q50 = out.narrow(1, 0, 1)?.squeeze(1)?;
    let q10 = (&q50 - softplus_t(&out.narrow(1, 1, 1)?.squeeze(1)?)?)?;
    let q90 = (&q50 + softplus_t(&out.narrow(1, 2, 1)?.squeeze(1)?)?)?;
    let logits = out.narrow(1, 3, 3)?;
    let ce = candle_nn::loss::cross_entropy(&logits, c)?;
    pinball(&q50, y, 0.5)? + pinball(&q10, y, 0.1)? + pinball(&q90, y, 0.9)? + (ce * class_weight)?
}
