//! Fitting a [`FeatureSpec`] on training samples: the WordLevel tokenizer,
//! the TF-IDF vocabulary and IDF, the fingerprint histories, and the
//! scalers that centre every column. Split from `featurize.rs` (applying a
//! fitted spec) so fitting reads as a short sequence of named steps and
//! both files stay under ~800 lines.

use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainer};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, TokenizerImpl,
};

use super::*;

impl FeatureSpec {
    /// Fits the featurizer on `train` (and nothing else).
    pub fn fit(
        train: &[Sample],
        catalog: &Catalog,
        config: FeatureConfig,
    ) -> Result<FeatureSpec, FeatureError> {
        if train.is_empty() {
            return Err(FeatureError::Empty);
        }
        let (analyzed, docs): (Vec<StatementFeatures>, Vec<String>) = train
            .iter()
            .map(|s| {
                let (f, toks) = extract_with_tokens(&s.sql, catalog);
                (f, toks.join(" "))
            })
            .unzip();

        let tokenizer = train_tokenizer(&docs, config.vocab_size)?;
        let id_docs: Vec<Vec<u32>> = docs.iter().map(|d| encode_ids(&tokenizer, d)).collect();
        let n = train.len() as f64;
        let (vocab, idf) = vocabulary(&tokenizer, &id_docs, &config, n);
        let history = if config.use_history {
            history_table(train)
        } else {
            BTreeMap::new()
        };
        let mut spec = FeatureSpec {
            config,
            head_names: head_names(&config),
            head_mean: Vec::new(),
            head_std: Vec::new(),
            vocab,
            idf,
            tfidf_mean: Vec::new(),
            history,
            runtime: Runtime::default(),
        };
        spec.attach(tokenizer, catalog.clone());
        spec.fit_head_scalers(train, &analyzed);
        spec.fit_tfidf_mean(&id_docs, n);
        Ok(spec)
    }

    /// Scalers from the raw training heads, with the same leave-one-out
    /// history the models are trained on.
    fn fit_head_scalers(&mut self, train: &[Sample], analyzed: &[StatementFeatures]) {
        let n = train.len() as f64;
        let loo = LeaveOneOut::new(train, &self.config);
        let heads: Vec<Vec<f64>> = train
            .iter()
            .zip(analyzed)
            .map(|(s, f)| self.raw_head(f, loo.history(s)))
            .collect();
        let (mean, std) = mean_and_std(&heads, self.head_names.len(), n);
        self.head_mean = mean;
        self.head_std = std;
    }

    /// Training mean of each (unscaled) TF-IDF column.
    fn fit_tfidf_mean(&mut self, id_docs: &[Vec<u32>], n: f64) {
        let mut tfidf_mean = vec![0.0; self.vocab.len()];
        for ids in id_docs {
            for (c, v) in self.tfidf_of_ids(ids) {
                tfidf_mean[c as usize] += v / n;
            }
        }
        self.tfidf_mean = tfidf_mean;
    }
}

/// The TF-IDF terms and their IDF over `n` training documents: terms in at
/// least `min_df` documents, the `vocab_size` most frequent.
fn vocabulary(
    tokenizer: &Tokenizer,
    id_docs: &[Vec<u32>],
    config: &FeatureConfig,
    n: f64,
) -> (Vec<String>, Vec<f64>) {
    let df = document_frequencies(tokenizer, id_docs);
    let mut terms: Vec<(usize, String, u32)> = (0..df.len() as u32)
        .filter(|&i| df[i as usize] >= config.min_df.max(1))
        .filter_map(|i| tokenizer.id_to_token(i).map(|t| (df[i as usize], t, i)))
        .collect();
    // Most frequent first, ties by term, so the vocabulary is deterministic.
    terms.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    terms.truncate(config.vocab_size);
    let vocab: Vec<String> = terms.iter().map(|t| t.1.clone()).collect();
    let idf: Vec<f64> = terms
        .iter()
        .map(|t| ((1.0 + n) / (1.0 + t.0 as f64)).ln() + 1.0)
        .collect();
    (vocab, idf)
}

/// Document frequencies by tokenizer id (unknown words not counted).
fn document_frequencies(tokenizer: &Tokenizer, id_docs: &[Vec<u32>]) -> Vec<usize> {
    let mut df = vec![0usize; tokenizer.get_vocab_size(true)];
    let unk = tokenizer.token_to_id(UNK);
    for ids in id_docs {
        let mut seen: Vec<u32> = ids.iter().copied().filter(|&i| Some(i) != unk).collect();
        seen.sort_unstable();
        seen.dedup();
        for i in seen {
            if let Some(d) = df.get_mut(i as usize) {
                *d += 1;
            }
        }
    }
    df
}

/// Names of the head columns: the structural features, then the history
/// columns when `config.use_history`.
fn head_names(config: &FeatureConfig) -> Vec<String> {
    let mut names: Vec<String> = StatementFeatures::feature_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if config.use_history {
        names.extend(
            [
                "fingerprint history: ln median",
                "fingerprint history: ln(count+1)",
                "fingerprint history: seen",
            ]
            .map(str::to_owned),
        );
    }
    names
}

/// Column means and standard deviations of `width`-wide rows over `n`
/// rows. Constant columns keep std 1 so they stay 0 instead of NaN.
fn mean_and_std(rows: &[Vec<f64>], width: usize, n: f64) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; width];
    for h in rows {
        for (m, v) in mean.iter_mut().zip(h) {
            *m += v / n;
        }
    }
    let mut var = vec![0.0; width];
    for h in rows {
        for ((s, v), m) in var.iter_mut().zip(h).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    let std = var
        .into_iter()
        .map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, std)
}

/// Median ln time and count per fingerprint.
fn history_table(train: &[Sample]) -> BTreeMap<String, FingerprintHistory> {
    let mut by: HashMap<String, Vec<f64>> = HashMap::new();
    for s in train {
        by.entry(fingerprint_of(s))
            .or_default()
            .push(ln_seconds(s.seconds));
    }
    by.into_iter()
        .map(|(fp, mut v)| {
            v.sort_by(f64::total_cmp);
            let h = FingerprintHistory {
                median_ln: median_sorted(&v),
                count: v.len() as u64,
            };
            (fp, h)
        })
        .collect()
}

/// Trains the WordLevel tokenizer on space-joined `sql::tokens` output.
fn train_tokenizer(docs: &[String], vocab_size: usize) -> Result<Tokenizer, FeatureError> {
    let err = |e: tokenizers::Error| FeatureError::Tokenizer(e.to_string());
    let model = WordLevel::builder()
        .unk_token(UNK.to_owned())
        .build()
        .map_err(err)?;
    let mut tk: TokenizerImpl<
        WordLevel,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    > = TokenizerImpl::new(model);
    tk.with_pre_tokenizer(Some(PreTokenizerWrapper::WhitespaceSplit(WhitespaceSplit)));
    // Generous term-frequency cap: the document-frequency cut that defines
    // the TF-IDF vocabulary is applied afterwards.
    let mut trainer = WordLevelTrainer::builder()
        .vocab_size(vocab_size.saturating_mul(4).max(64))
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from(UNK, true)])
        .build()
        .map_err(|e| FeatureError::Tokenizer(e.to_string()))?;
    tk.train(&mut trainer, docs.iter()).map_err(err)?;
    Ok(Tokenizer::from(tk))
}
