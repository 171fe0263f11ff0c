//! A small ReLU MLP on the shared features, trained with candle on the CPU.
//!
//! Outputs (in standardised ln-seconds, `y = (ln s − mean) / std`):
//! - `o0`: the median (pinball loss τ = 0.5);
//! - `o1`, `o2`: the gaps to the 10th and 90th percentiles through softplus
//!   (pinball τ = 0.1 and 0.9 on `o0 − softplus(o1)` and
//!   `o0 + softplus(o2)`), so p10 ≤ p50 ≤ p90 holds by construction;
//! - `o3..o5`: logits of fast / medium / slow (cross-entropy).
//!
//! The interval is then calibrated on the validation slice (conformalised
//! quantile regression): both gaps are widened, or narrowed down to zero, by
//! the amount that makes the validation coverage equal the configured
//! coverage, because pinball-trained intervals are usually too narrow on
//! data the network did not see.
//!
//! Training is deterministic on the CPU: weights are initialised from a
//! seeded ChaCha RNG (not candle's RNG), mini-batches are shuffled by the
//! same RNG, and candle's CPU kernels do not split reductions across
//! threads. Serving does not use candle: the weights are copied into plain
//! vectors once, and the forward pass exploits the sparse TF-IDF input.
//!
//! # Explanations
//!
//! Integrated gradients of the median output from the all-zero input (the
//! training mean), with the midpoint Riemann sum over [`IG_STEPS`] steps and
//! the gradient computed analytically. Because the first layer is linear,
//! the pre-activations along the path are `b₁ + α·W₁x`, so the path costs
//! one sparse product plus [`IG_STEPS`] small dense passes; per step the
//! gradient with respect to the first pre-activation `g(α)` is
//! back-propagated by hand, and the attribution of input `i` is
//! `x_i · (W₁ᵀ ḡ)_i` with `ḡ` the mean of `g(α)` over the steps. The
//! Riemann error (the difference between the exact output change and the
//! attributions' sum) is reported as its own entry,
//! [`super::REST_APPROXIMATION`], not redistributed, so a reader sees how
//! good the approximation was and the entries still add up exactly.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand::RngExt;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    ClassThresholds, LatencyClass, LatencyModel, Prediction, REST_APPROXIMATION, TRAINED_RANGE,
    argmax_class, keep_within, ln_range, top_contributions,
};
use crate::featurize::{FeatureSpec, Featurized};

mod training;
use training::{TrainData, train_network};

/// Riemann steps of the integrated-gradients explanation.
pub const IG_STEPS: usize = 32;

/// Number of network outputs: median, two gaps, three class logits.
const OUTPUTS: usize = 6;

/// Errors of training or loading the MLP.
#[derive(Debug, thiserror::Error)]
pub enum MlpError {
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("MLP weights: {0}")]
    Shape(String),
    #[error("MLP needs at least 2 training rows, got {0}")]
    TooFew(usize),
}

/// Training settings of the MLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    pub seed: u64,
    pub hidden: Vec<usize>,
    pub epochs_max: usize,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    /// Weight of the class cross-entropy next to the pinball losses.
    pub class_weight: f64,
    /// Target p10–p90 coverage for the conformal calibration.
    pub coverage: f64,
    /// Networks trained side by side from different initialisations and
    /// averaged (see the module documentation). Manifests written before
    /// ensembles trained a single network.
    #[serde(rename = "mlp_members", default = "one")]
    pub members: usize,
    /// Per-step decay of the exponential moving average of the weights
    /// (0 turns it off). The average, not the last step's weights, is what
    /// early stopping scores and what is kept: it sits in the middle of the
    /// region the optimiser's noise wanders over, which generalises better
    /// to shapes never seen in training than any one point of it (measured
    /// in `docs/MODEL.md`), and costs nothing when predicting. Manifests
    /// written before it trained without one.
    #[serde(default)]
    pub ema_decay: f64,
}

fn one() -> usize {
    1
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            seed: 20261125,
            hidden: vec![128, 64],
            epochs_max: 200,
            patience: 20,
            learning_rate: 2e-3,
            weight_decay: 0.0,
            batch_size: 128,
            class_weight: 0.3,
            coverage: 0.8,
            members: 2,
            ema_decay: 0.99,
        }
    }
}

/// Progress of training, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochProgress {
    pub epoch: usize,
    pub epochs_max: usize,
    pub train_loss: f64,
    pub validation_loss: f64,
    pub best_epoch: usize,
}

/// Scalars saved next to the weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub y_mean: f64,
    pub y_std: f64,
    /// Conformal adjustment of both gaps, ln seconds (may be negative).
    pub widen: f64,
    /// Fastest and slowest time in the training data, ln seconds: the
    /// median is kept between them. A network extrapolates without bound
    /// on a shape unlike anything it saw (held-out Q12 came out at 13 s,
    /// seven times the slowest statement ever logged); nothing in the data
    /// supports an answer outside what was measured. Unbounded (±∞) for
    /// artifacts saved before the bound existed.
    pub ln_min: f64,
    pub ln_max: f64,
}

impl Calibration {
    /// `ln_p50` kept within the trained range.
    pub fn bound(&self, ln_p50: f64) -> f64 {
        keep_within(ln_p50, Some((self.ln_min, self.ln_max)))
    }
}

/// Weights of every layer at the best epoch so far.
type Snapshot = Vec<(Tensor, Tensor)>;

/// One trained layer of every member, as saved (candle layout, f32).
#[derive(Debug, Clone, PartialEq)]
pub struct RawLayer {
    pub members: usize,
    pub n_in: usize,
    pub n_out: usize,
    /// `members × n_out × n_in`, row-major.
    pub w: Vec<f32>,
    /// `members × n_out`.
    pub b: Vec<f32>,
}

/// One dense layer for serving, f64.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    n_in: usize,
    n_out: usize,
    /// Transposed (`n_in × n_out`, row-major) so one input's weights are
    /// contiguous: the forward pass adds `x_i · column_i` for the inputs
    /// that are non-zero (half of a ReLU layer's outputs are zero, and a
    /// statement uses a few dozen of the TF-IDF columns).
    w: Vec<f64>,
    b: Vec<f64>,
}

/// One member network in serving form.
#[derive(Debug, Clone, PartialEq)]
struct Net {
    layers: Vec<Layer>,
    /// First-layer bias with the TF-IDF centring folded in.
    b1_folded: Vec<f64>,
}

/// The trained MLP ensemble.
#[derive(Debug)]
pub struct Mlp {
    spec: Arc<FeatureSpec>,
    names: Vec<String>,
    /// Weights as trained (f32, candle layout `out × in`), for saving.
    raw: Vec<RawLayer>,
    members: Vec<Net>,
    pub calibration: Calibration,
    pub thresholds: ClassThresholds,
    /// Epoch whose weights were kept (for the record).
    pub best_epoch: usize,
}

/// Path-wise intermediate results of one forward pass.
struct Forward {
    out: [f64; OUTPUTS],
}

impl Mlp {
    /// Trains on `rows[..n − n_val]`, early-stopping on `rows[n − n_val..]`.
    pub fn fit(
        spec: Arc<FeatureSpec>,
        rows: &[Featurized],
        y_ln: &[f64],
        n_val: usize,
        cfg: &MlpConfig,
        thresholds: ClassThresholds,
        progress: &mut dyn FnMut(EpochProgress),
    ) -> Result<Mlp, MlpError> {
        let n = rows.len().min(y_ln.len());
        if n < 2 {
            return Err(MlpError::TooFew(n));
        }
        let n_val = n_val.clamp(1, n - 1);
        let n_fit = n - n_val;
        let d = spec.input_len();
        let y_mean = y_ln[..n_fit].iter().sum::<f64>() / n_fit as f64;
        let y_var = y_ln[..n_fit]
            .iter()
            .map(|y| (y - y_mean) * (y - y_mean))
            .sum::<f64>()
            / n_fit as f64;
        let y_std = if y_var > 1e-12 { y_var.sqrt() } else { 1.0 };
        let (ln_min, ln_max) = ln_range(&y_ln[..n]).unwrap_or((f64::NEG_INFINITY, f64::INFINITY));

        let dev = Device::Cpu;
        let to_x = |rs: &[Featurized]| -> Result<Tensor, MlpError> {
            let mut data = Vec::with_capacity(rs.len() * d);
            for r in rs {
                data.extend(spec.dense(r).into_iter().map(|v| v as f32));
            }
            Ok(Tensor::from_vec(data, (rs.len(), d), &dev)?)
        };
        let to_y = |ys: &[f64]| -> Result<Tensor, MlpError> {
            let v: Vec<f32> = ys.iter().map(|y| ((y - y_mean) / y_std) as f32).collect();
            Ok(Tensor::from_vec(v, ys.len(), &dev)?)
        };
        let to_c = |ys: &[f64]| -> Result<Tensor, MlpError> {
            let v: Vec<u32> = ys
                .iter()
                .map(|y| LatencyClass::of(y.exp(), &thresholds).index() as u32)
                .collect();
            Ok(Tensor::from_vec(v, ys.len(), &dev)?)
        };
        let data = TrainData {
            x_fit: to_x(&rows[..n_fit])?,
            y_fit: to_y(&y_ln[..n_fit])?,
            c_fit: to_c(&y_ln[..n_fit])?,
            x_val: to_x(&rows[n_fit..n])?,
            y_val: to_y(&y_ln[n_fit..n])?,
            c_val: to_c(&y_ln[n_fit..n])?,
        };
        let mut sizes = vec![d];
        sizes.extend(cfg.hidden.iter().copied().filter(|&h| h > 0));
        sizes.push(OUTPUTS);
        // One thread per member, each from its own seed: the members are
        // independent networks (own initialisation, own batch order, own
        // early stopping), so on a multi-core machine the ensemble costs
        // about one network's wall time, and the result does not depend on
        // the number of cores.
        let members = cfg.members.max(1);
        let (first, others) = std::thread::scope(|scope| {
            let others: Vec<_> = (1..members)
                .map(|m| {
                    let (data, sizes) = (&data, &sizes);
                    let seed = cfg.seed.wrapping_add(m as u64);
                    scope.spawn(move || train_network(data, sizes, seed, cfg, &mut |_| {}))
                })
                .collect();
            let first = train_network(&data, &sizes, cfg.seed, cfg, progress);
            let others: Vec<_> = others
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(MlpError::Shape(
                            "a member's training thread panicked".to_owned(),
                        ))
                    })
                })
                .collect();
            (first, others)
        });
        let mut trained = vec![first?];
        for o in others {
            trained.push(o?);
        }
        let best_epoch = trained.iter().map(|t| t.1).max().unwrap_or(0);
        let weights = (0..sizes.len() - 1)
            .map(|i| {
                let ws: Vec<&Tensor> = trained.iter().map(|t| &t.0[i].0).collect();
                let bs: Vec<&Tensor> = trained.iter().map(|t| &t.0[i].1).collect();
                Ok((Tensor::cat(&ws, 0)?, Tensor::cat(&bs, 0)?))
            })
            .collect::<Result<Vec<_>, candle_core::Error>>()?;
        let raw = weights
            .iter()
            .map(|(w, b)| {
                let (members, n_out, n_in) = w.dims3()?;
                Ok(RawLayer {
                    members,
                    n_in,
                    n_out,
                    w: w.flatten_all()?.to_vec1::<f32>()?,
                    b: b.flatten_all()?.to_vec1::<f32>()?,
                })
            })
            .collect::<Result<Vec<_>, candle_core::Error>>()?;
        let mut mlp = Mlp::from_raw(
            spec,
            raw,
            Calibration {
                y_mean,
                y_std,
                widen: 0.0,
                ln_min,
                ln_max,
            },
            thresholds,
            best_epoch,
        )?;
        mlp.calibration.widen = mlp.conformal_widen(&rows[n_fit..n], &y_ln[n_fit..n], cfg.coverage);
        Ok(mlp)
    }

    /// Builds the serving form from trained weights (`out × in`, f32).
    pub fn from_raw(
        spec: Arc<FeatureSpec>,
        raw: Vec<RawLayer>,
        calibration: Calibration,
        thresholds: ClassThresholds,
        best_epoch: usize,
    ) -> Result<Mlp, MlpError> {
        let members = raw.first().map_or(0, |l| l.members);
        if members == 0 {
            return Err(MlpError::Shape("no layers or no members".to_owned()));
        }
        let mut nets: Vec<Net> = (0..members)
            .map(|_| Net {
                layers: Vec::with_capacity(raw.len()),
                b1_folded: Vec::new(),
            })
            .collect();
        let mut expect_in = spec.input_len();
        for (i, l) in raw.iter().enumerate() {
            let (n_in, n_out) = (l.n_in, l.n_out);
            if l.members != members
                || n_in != expect_in
                || l.w.len() != members * n_in * n_out
                || l.b.len() != members * n_out
            {
                return Err(MlpError::Shape(format!(
                    "layer {i}: {} members of {n_out}×{n_in} with {} weights and {} biases, expected {members} members and {expect_in} inputs",
                    l.members,
                    l.w.len(),
                    l.b.len()
                )));
            }
            expect_in = n_out;
            for (m, net) in nets.iter_mut().enumerate() {
                let w = &l.w[m * n_in * n_out..(m + 1) * n_in * n_out];
                let mut w64 = vec![0.0; w.len()];
                for o in 0..n_out {
                    for k in 0..n_in {
                        w64[k * n_out + o] = f64::from(w[o * n_in + k]);
                    }
                }
                net.layers.push(Layer {
                    n_in,
                    n_out,
                    w: w64,
                    b: l.b[m * n_out..(m + 1) * n_out]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect(),
                });
            }
        }
        if expect_in != OUTPUTS || raw.len() < 2 {
            return Err(MlpError::Shape(format!(
                "{} layers ending in {expect_in} outputs, expected at least 2 layers and {OUTPUTS} outputs",
                raw.len()
            )));
        }
        let h = spec.head_len();
        let s = spec.config.tfidf_scale;
        for net in &mut nets {
            let first = &net.layers[0];
            let mut b1_folded = first.b.clone();
            for (c, m) in spec.tfidf_mean.iter().enumerate() {
                let col = &first.w[(h + c) * first.n_out..(h + c + 1) * first.n_out];
                for (b, w) in b1_folded.iter_mut().zip(col) {
                    *b -= s * m * w;
                }
            }
            net.b1_folded = b1_folded;
        }
        Ok(Mlp {
            names: spec.display_names(),
            spec,
            raw,
            members: nets,
            calibration,
            thresholds,
            best_epoch,
        })
    }

    /// Trained weights of every layer, as saved.
    pub fn raw_weights(&self) -> &[RawLayer] {
        &self.raw
    }

    /// Number of averaged member networks.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Each member's first-layer product `W₁x` (without bias).
    fn first_layer_products(&self, f: &Featurized) -> Vec<Vec<f64>> {
        self.members
            .iter()
            .map(|net| net.first_layer_product(&self.spec, f))
            .collect()
    }

    /// Each member's raw outputs, given its first-layer products.
    fn member_outputs(&self, products: &[Vec<f64>]) -> Vec<[f64; OUTPUTS]> {
        self.members
            .iter()
            .zip(products)
            .map(|(net, u)| {
                let pre: Vec<f64> = u.iter().zip(&net.b1_folded).map(|(u, b)| u + b).collect();
                net.forward_from(&pre, None).out
            })
            .collect()
    }

    /// Median, p10, p90 in ln seconds and class probabilities: the members'
    /// medians, interval gaps and class probabilities averaged, then the
    /// conformal widening applied to the averaged gaps. The median is the
    /// members' mean before [`Calibration::bound`].
    fn outputs(&self, outs: &[[f64; OUTPUTS]]) -> (f64, f64, f64, [f64; 3]) {
        let c = &self.calibration;
        let k = outs.len().max(1) as f64;
        let (mut p50, mut lo, mut hi, mut probs) = (0.0, 0.0, 0.0, [0.0; 3]);
        for out in outs {
            p50 += (c.y_mean + c.y_std * out[0]) / k;
            lo += c.y_std * softplus(out[1]) / k;
            hi += c.y_std * softplus(out[2]) / k;
            let m = out[3].max(out[4]).max(out[5]);
            let e = [(out[3] - m).exp(), (out[4] - m).exp(), (out[5] - m).exp()];
            let z = e[0] + e[1] + e[2];
            for (p, e) in probs.iter_mut().zip(e) {
                *p += e / z / k;
            }
        }
        let lo = (lo + c.widen).max(0.0);
        let hi = (hi + c.widen).max(0.0);
        (p50, p50 - lo, p50 + hi, probs)
    }

    /// Median prediction in ln seconds (within the trained range).
    pub fn ln_p50(&self, f: &Featurized) -> f64 {
        let raw = self
            .outputs(&self.member_outputs(&self.first_layer_products(f)))
            .0;
        self.calibration.bound(raw)
    }

    /// Gap adjustment that gives `coverage` on the validation rows.
    fn conformal_widen(&self, rows: &[Featurized], y: &[f64], coverage: f64) -> f64 {
        let mut scores: Vec<f64> = rows
            .iter()
            .zip(y)
            .map(|(r, t)| {
                let p = self.predict_featurized(r, false);
                let (lo, hi) = (p.p10.ln(), p.p90.ln());
                (lo - t).max(t - hi)
            })
            .collect();
        if scores.is_empty() {
            return 0.0;
        }
        scores.sort_by(f64::total_cmp);
        let n = scores.len();
        let k = (((n + 1) as f64 * coverage.clamp(0.0, 1.0)).ceil() as usize).clamp(1, n);
        scores[k - 1]
    }

    /// Explanation baseline: the median output at the all-zero input.
    pub fn baseline_ln(&self) -> f64 {
        let c = &self.calibration;
        let k = self.members.len().max(1) as f64;
        self.members
            .iter()
            .map(|net| (c.y_mean + c.y_std * net.forward_from(&net.b1_folded, None).out[0]) / k)
            .sum()
    }
}

impl Net {
    /// `W₁x` for the centred input, from the sparse form (without bias).
    fn first_layer_product(&self, spec: &FeatureSpec, f: &Featurized) -> Vec<f64> {
        let first = &self.layers[0];
        let n_out = first.n_out;
        let h = spec.head_len();
        let s = spec.config.tfidf_scale;
        let mut u = vec![0.0; n_out];
        let mut add = |col: usize, x: f64| {
            if let Some(wc) = first.w.get(col * n_out..(col + 1) * n_out) {
                for (ui, w) in u.iter_mut().zip(wc) {
                    *ui += x * w;
                }
            }
        };
        for (i, &x) in f.head.iter().enumerate() {
            if x != 0.0 {
                add(i, x);
            }
        }
        for &(c, t) in &f.tfidf {
            add(h + c as usize, s * t);
        }
        u
    }

    /// Forward from first-layer pre-activations; fills `grad1` with
    /// ∂o0/∂(pre-activation 1) when given.
    fn forward_from(&self, pre1: &[f64], grad1: Option<&mut Vec<f64>>) -> Forward {
        let mut acts: Vec<Vec<f64>> = Vec::with_capacity(self.layers.len());
        acts.push(pre1.iter().map(|v| v.max(0.0)).collect());
        let mut pres: Vec<Vec<f64>> = vec![pre1.to_vec()];
        for (li, layer) in self.layers.iter().enumerate().skip(1) {
            let input = &acts[li - 1];
            let mut pre = layer.b.clone();
            for (x, column) in input.iter().zip(layer.w.chunks_exact(layer.n_out)) {
                if *x != 0.0 {
                    for (p, w) in pre.iter_mut().zip(column) {
                        *p += x * w;
                    }
                }
            }
            let last = li + 1 == self.layers.len();
            acts.push(if last {
                pre.clone()
            } else {
                pre.iter().map(|v| v.max(0.0)).collect()
            });
            pres.push(pre);
        }
        let mut out = [0.0; OUTPUTS];
        if let Some(last) = acts.last() {
            for (o, v) in out.iter_mut().zip(last) {
                *o = *v;
            }
        }
        if let Some(g) = grad1 {
            // Back-propagate ∂o0 through the hidden layers.
            let last = self.layers.len() - 1;
            let out_layer = &self.layers[last];
            let mut delta: Vec<f64> = out_layer
                .w
                .iter()
                .step_by(out_layer.n_out)
                .copied()
                .collect();
            for li in (1..last).rev() {
                let layer = &self.layers[li];
                for (d, p) in delta.iter_mut().zip(&pres[li]) {
                    if *p <= 0.0 {
                        *d = 0.0;
                    }
                }
                // Inputs whose ReLU was off get no gradient: skip their
                // dot products (about half of them).
                delta = layer
                    .w
                    .chunks_exact(layer.n_out)
                    .zip(&pres[li - 1])
                    .map(|(column, p)| if *p > 0.0 { dot(column, &delta) } else { 0.0 })
                    .collect();
            }
            for (d, p) in delta.iter_mut().zip(&pres[0]) {
                if *p <= 0.0 {
                    *d = 0.0;
                }
            }
            *g = delta;
        }
        Forward { out }
    }

    /// Mean gradient of the median output with respect to the first
    /// pre-activation along the integrated-gradients path from the
    /// baseline (`b1_folded`) to `b1_folded + u`.
    fn mean_path_gradient(&self, u: &[f64]) -> Vec<f64> {
        let mut gbar = vec![0.0; u.len()];
        let mut g = Vec::new();
        let mut path = vec![0.0; u.len()];
        for k in 0..IG_STEPS {
            let alpha = (k as f64 + 0.5) / IG_STEPS as f64;
            for ((p, ui), b) in path.iter_mut().zip(u).zip(&self.b1_folded) {
                *p = b + alpha * ui;
            }
            self.forward_from(&path, Some(&mut g));
            for (a, gi) in gbar.iter_mut().zip(&g) {
                *a += gi / IG_STEPS as f64;
            }
        }
        gbar
    }
}

impl LatencyModel for Mlp {
    fn name(&self) -> &str {
        "mlp"
    }

    fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    fn predict_featurized(&self, f: &Featurized, explain: bool) -> Prediction {
        let products = self.first_layer_products(f);
        let (raw, p10, p90, probs) = self.outputs(&self.member_outputs(&products));
        let p50 = self.calibration.bound(raw);
        let (p10, p90) = (p10 + p50 - raw, p90 + p50 - raw);
        let (baseline, explanation) = if explain {
            // The ensemble median is the members' mean, so the members'
            // attributions averaged keep the completeness property.
            let ys = self.calibration.y_std;
            let k = self.members.len().max(1) as f64;
            let baseline = self.baseline_ln();
            let x = self.spec.dense(f);
            let mut contributions = vec![0.0; x.len()];
            for (net, u) in self.members.iter().zip(&products) {
                let gbar = net.mean_path_gradient(u);
                let first = &net.layers[0];
                for (i, (c, xi)) in contributions.iter_mut().zip(&x).enumerate() {
                    if *xi != 0.0 {
                        let col = &first.w[i * first.n_out..(i + 1) * first.n_out];
                        *c += ys * xi * dot(col, &gbar) / k;
                    }
                }
            }
            let rest = (raw - baseline) - contributions.iter().sum::<f64>();
            let mut extras = vec![(REST_APPROXIMATION, rest)];
            if p50 != raw {
                extras.push((TRAINED_RANGE, p50 - raw));
            }
            (
                baseline,
                top_contributions(&self.names, &contributions, &extras),
            )
        } else {
            (p50, Vec::new())
        };
        Prediction {
            predicted_seconds: p50.exp(),
            p10: p10.exp(),
            p90: p90.exp(),
            class: argmax_class(&probs),
            class_probabilities: probs,
            explanation_baseline: baseline,
            explanation,
            parsed: f.parsed,
        }
    }
}

/// Dot product with eight independent accumulators over fixed-size chunks,
/// so the compiler can keep them in vector registers (a single running sum
/// is a dependency chain it may not reorder).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a8, a_tail) = a[..n].as_chunks::<8>();
    let (b8, b_tail) = b[..n].as_chunks::<8>();
    let mut acc = [0.0; 8];
    for (x, y) in a8.iter().zip(b8) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}
