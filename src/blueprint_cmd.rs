//! `onewindow blueprint check|audit`: the site check and the plan audit from the command
//! line (the library is `onewindow::blueprint`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use onewindow::blueprint::{check, conflicts, Blueprint};

/// The blueprint's commands.
#[derive(Subcommand)]
pub enum BlueprintCommand {
    /// Check a site (a GeoJSON polygon in lon/lat) against every layer of the blueprint;
    /// exit 1 when a finding blocks the application.
    Check {
        /// The blueprint directory (its `blueprint.yaml` and layers).
        #[arg(long)]
        blueprint: PathBuf,
        /// The site: a GeoJSON Feature, FeatureCollection (its first feature) or geometry.
        site: PathBuf,
        /// The application form (YAML): its `industry` judges the zoning use.
        #[arg(long)]
        form: Option<PathBuf>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Find where the plans themselves conflict, as difference polygons.
    Audit {
        /// The blueprint directory.
        #[arg(long)]
        blueprint: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the difference polygons as GeoJSON (lon/lat) here.
        #[arg(long)]
        geojson: Option<PathBuf>,
    },
}

/// Loads a blueprint, printing every problem.
fn load(dir: &Path) -> Result<Blueprint> {
    Blueprint::load(dir).map_err(|problems| {
        for p in &problems {
            eprintln!("error: {p}");
        }
        anyhow::anyhow!(
            "{} problem(s) in the blueprint {}",
            problems.len(),
            dir.display()
        )
    })
}

/// The site's shape from a GeoJSON file.
fn read_site(path: &Path) -> Result<geo::MultiPolygon<f64>> {
    let text = onewindow::textfile::read_at_most(path, onewindow::blueprint::MAX_LAYER_BYTES)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    onewindow::blueprint::site_from_geojson(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The form's `industry`, if it has one.
fn industry(form: Option<&Path>) -> Result<Option<String>> {
    let Some(path) = form else { return Ok(None) };
    let text = onewindow::textfile::read(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let values: std::collections::BTreeMap<String, serde_yaml::Value> =
        serde_yaml::from_str(&text).with_context(|| format!("{}: not a form", path.display()))?;
    Ok(values
        .get("industry")
        .and_then(|v| v.as_str())
        .map(str::to_string))
}

/// Runs a blueprint command.
pub fn run(cmd: BlueprintCommand) -> Result<ExitCode> {
    match cmd {
        BlueprintCommand::Check {
            blueprint,
            site,
            form,
            json,
        } => {
            let bp = load(&blueprint)?;
            let shape = read_site(&site)?;
            let industry = industry(form.as_deref())?;
            let result = check::check_site(&bp, &shape, industry.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                if bp.synthetic {
                    println!("blueprint {} — SYNTHETIC example data", bp.name);
                } else {
                    println!("blueprint {}", bp.name);
                }
                println!("site {:.0} m²", result.site_m2);
                if result.findings.is_empty() {
                    println!("no conflict with any plan");
                }
                for f in &result.findings {
                    println!(
                        "{} {:<24} {:<28} {:>10.0} m² {:>5.1} % {:?}  {} ({}), features {}\n    {}",
                        if f.blocking { "BLOCKS" } else { "note  " },
                        f.rule,
                        f.layer,
                        f.overlap_m2,
                        f.share * 100.0,
                        f.class,
                        f.plan,
                        f.department,
                        f.features.join(", "),
                        f.message
                    );
                }
            }
            Ok(if result.blocking {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        BlueprintCommand::Audit {
            blueprint,
            json,
            geojson,
        } => {
            let bp = load(&blueprint)?;
            let differences = conflicts::find(&bp);
            if let Some(out) = geojson {
                let collection = conflicts::to_geojson(&bp, &differences);
                std::fs::write(&out, serde_json::to_string_pretty(&collection)?)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&differences)?);
            } else {
                println!(
                    "blueprint {}{}: {} polygons in {} layers, {} conflict(s)",
                    bp.name,
                    if bp.synthetic { " (SYNTHETIC)" } else { "" },
                    bp.polygons(),
                    bp.layers.len(),
                    differences.len()
                );
                for d in &differences {
                    println!(
                        "{:<22} {}/{} × {}/{}  {:.0} m²",
                        d.rule, d.layer_a, d.feature_a, d.layer_b, d.feature_b, d.area_m2
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
