//! Durations: how many working days something takes, as a distribution.
//!
//! Written in YAML as one key naming the shape, and optionally `of: limit` to read the
//! numbers as shares of the item's committed limit rather than working days:
//!
//! ```yaml
//! review: {triangular: [0.4, 0.7, 1.1], of: limit}   # 40 %..110 % of the limit, mostly 70 %
//! items:
//!   I12: {lognormal: {mean: 12, sd: 5}}              # working days
//!   I03: {fixed: 3}
//!   I04: {uniform: [2, 6]}
//!   I05: {exponential: {mean: 4}}
//! ```
//!
//! Sampling uses `rand_distr`; a sample is never negative.

use rand::Rng;
use rand_distr::Distribution;
use serde::Deserialize;

/// A duration distribution.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Dist {
    /// The shape.
    #[serde(flatten)]
    pub shape: Shape,
    /// What the numbers are in.
    #[serde(default)]
    pub of: Of,
}

/// The unit of a distribution's numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Of {
    /// Working days.
    #[default]
    Days,
    /// Shares of the item's committed limit.
    Limit,
}

/// The shapes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Always this.
    Fixed(f64),
    /// Uniform on `[min, max]`.
    Uniform([f64; 2]),
    /// Triangular `[min, mode, max]`.
    Triangular([f64; 3]),
    /// Lognormal with this mean and standard deviation (of the duration itself).
    Lognormal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Exponential with this mean (a memoryless service time, as in queueing theory).
    Exponential {
        /// Mean.
        mean: f64,
    },
}

impl Dist {
    /// The default review time: between 40 % and 110 % of the committed limit, most
    /// often 70 % — departments usually finish inside their commitment, and some do not.
    pub fn default_review() -> Dist {
        Dist {
            shape: Shape::Triangular([0.4, 0.7, 1.1]),
            of: Of::Limit,
        }
    }

    /// A fixed number of working days.
    pub fn fixed(days: f64) -> Dist {
        Dist {
            shape: Shape::Fixed(days),
            of: Of::Days,
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// What is wrong, in words.
    pub fn check(&self) -> Result<(), String> {
        // Days (or shares of a limit) from 0 to the longest limit a workflow may have: a
        // typo of 2^31 days must not keep the scheduler running for ever.
        let max = f64::from(onewindow_core::plan::MAX_DAYS);
        let finite = |x: f64| (0.0..=max).contains(&x);
        match &self.shape {
            Shape::Fixed(x) if finite(*x) => Ok(()),
            Shape::Uniform([a, b]) if finite(*a) && finite(*b) && a <= b => Ok(()),
            Shape::Triangular([a, m, b]) if finite(*a) && finite(*b) && a <= m && m <= b => Ok(()),
            Shape::Lognormal { mean, sd } if *mean > 0.0 && finite(*mean) && finite(*sd) => Ok(()),
            Shape::Exponential { mean } if *mean > 0.0 && finite(*mean) => Ok(()),
            Shape::Fixed(_) => Err(format!("fixed: a number of days from 0 to {max}")),
            Shape::Uniform(_) => Err(format!("uniform: [min, max] with 0 <= min <= max <= {max}")),
            Shape::Triangular(_) => Err(format!(
                "triangular: [min, mode, max] with 0 <= min <= mode <= max <= {max}"
            )),
            Shape::Lognormal { .. } => {
                Err(format!("lognormal: 0 < mean <= {max} and 0 <= sd <= {max}"))
            }
            Shape::Exponential { .. } => Err(format!("exponential: 0 < mean <= {max}")),
        }
    }

    /// The mean, in the distribution's own unit.
    pub fn mean(&self) -> f64 {
        match &self.shape {
            Shape::Fixed(x) => *x,
            Shape::Uniform([a, b]) => (a + b) / 2.0,
            Shape::Triangular([a, m, b]) => (a + m + b) / 3.0,
            Shape::Lognormal { mean, .. } | Shape::Exponential { mean } => *mean,
        }
    }

    /// A sample in working days, for an item with committed limit `limit` (working days).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, limit: f64) -> f64 {
        let x = match &self.shape {
            Shape::Fixed(x) => *x,
            Shape::Uniform([a, b]) => {
                if a == b {
                    *a
                } else {
                    rng.random_range(*a..=*b)
                }
            }
            Shape::Triangular([a, m, b]) => match rand_distr::Triangular::new(*a, *b, *m) {
                Ok(d) => d.sample(rng),
                Err(_) => *m,
            },
            Shape::Lognormal { mean, sd } => {
                // The underlying normal's parameters from the duration's mean and sd.
                let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                let mu = mean.ln() - s2 / 2.0;
                match rand_distr::LogNormal::new(mu, s2.sqrt()) {
                    Ok(d) => d.sample(rng),
                    Err(_) => *mean,
                }
            }
            Shape::Exponential { mean } => match rand_distr::Exp::new(1.0 / mean) {
                Ok(d) => d.sample(rng),
                Err(_) => *mean,
            },
        };
        let x = match self.of {
            Of::Days => x,
            Of::Limit => x * limit,
        };
        x.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn mean_of(d: &Dist, limit: f64) -> f64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        (0..n).map(|_| d.sample(&mut rng, limit)).sum::<f64>() / f64::from(n)
    }

    #[test]
    fn samples_have_the_stated_means() {
        let cases: Vec<(&str, f64)> = vec![
            ("{fixed: 3}", 3.0),
            ("{uniform: [2, 6]}", 4.0),
            ("{triangular: [1, 2, 6]}", 3.0),
            ("{lognormal: {mean: 10, sd: 4}}", 10.0),
            ("{exponential: {mean: 4}}", 4.0),
            ("{triangular: [0.4, 0.7, 1.1], of: limit}", 0.7333 * 20.0),
        ];
        for (yaml, want) in cases {
            let d: Dist = serde_yaml::from_str(yaml).expect(yaml);
            let got = mean_of(&d, 20.0);
            assert!(
                (got - want).abs() / want < 0.01,
                "{yaml}: mean {got}, expected {want}"
            );
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        for yaml in [
            "{uniform: [6, 2]}",
            "{triangular: [1, 7, 6]}",
            "{lognormal: {mean: 0, sd: 1}}",
            "{exponential: {mean: -1}}",
            "{fixed: -2}",
        ] {
            let d: Dist = serde_yaml::from_str(yaml).expect(yaml);
            assert!(d.check().is_err(), "{yaml} is refused");
        }
    }
}
