//! The herd's real-machine modes: `--live` (the herd on loopback sockets),
//! `--live --compare-model` (live and model side by side) and `--calibrate`
//! (measure the handshake cost first and give it to the model, or to the live
//! run's report as the cost its workers naturally take).

use super::{HerdArgs, SimOutcome, compute_spec};
use crate::live::calibrate::{CalibrateOptions, calibrate_handshake};
use crate::live::herd::{LiveHerdOptions, run_herd};
use crate::live::versus::herd_live_vs_model;
use crate::sim::error::SimError;
use crate::sim::report::{Parameter, Report};

/// Runs `simulate herd` with `--live` and/or `--calibrate`.
pub(super) fn compute(a: &HerdArgs, is_tty: bool) -> Result<SimOutcome, SimError> {
    let mut cfg = a.to_config()?;
    // Bad flags fail before anything is measured or started.
    cfg.validate()?;
    let calibration = if a.calibrate {
        let c = calibrate_handshake(&CalibrateOptions::default())?;
        // stderr: stdout stays pure under --json; the reports carry it too.
        eprintln!("{c}");
        cfg.handshake_ms = c.handshake_ms();
        Some(c)
    } else {
        None
    };
    let mut outcome = if a.live {
        let opts = LiveHerdOptions {
            time_scale: a.time_scale,
            natural_handshake: a.calibrate,
            clients_per_process: a.clients_per_process,
            ..Default::default()
        };
        if a.compare_model {
            SimOutcome::Compare(herd_live_vs_model(&cfg, &opts, a.run.seed)?)
        } else {
            SimOutcome::Single(Box::new(run_herd(&cfg, &opts, a.run.seed)?))
        }
    } else {
        compute_spec(&cfg, &a.run, is_tty)?
    };
    let reports: Vec<&mut Report> = match &mut outcome {
        SimOutcome::Single(r) => vec![r.as_mut()],
        SimOutcome::Compare(c) => c.reports.iter_mut().collect(),
    };
    for r in reports {
        if a.run.no_wall_time {
            r.wall_time_s = None;
        }
        if let Some(c) = &calibration {
            r.parameters
                .push(Parameter::new("calibration", c.summary(), ""));
        }
    }
    Ok(outcome)
}
