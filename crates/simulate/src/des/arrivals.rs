//! A project arrives: the next arrival drawn first (so the stream does not depend on what
//! this one does), its type picked by weight, its site drawn and checked against the
//! blueprint where the scenario has sites, and its submission made — each from its own
//! random stream, so that every variant meets the same projects at the same times.

use rand::Rng;

use super::{minutes, Ev, Live, ProjectResult, Sim, TaskTimes, NONE};
use onewindow_engine::{Actor, Command, Submission};

impl Sim<'_> {
    /// Working minutes to the next arrival of a Poisson stream of `rate` a working day,
    /// from the arrivals' own random stream.
    pub(super) fn arrival_gap(&mut self, rate: f64) -> u64 {
        let exp = rand_distr::Exp::new(rate)
            .unwrap_or_else(|_| rand_distr::Exp::new(1.0).expect("1 is a valid rate"));
        minutes(rand_distr::Distribution::sample(
            &exp,
            &mut self.arrivals_rng,
        ))
    }

    pub(super) fn arrive(&mut self) {
        let now = self.now;
        // The next arrival first, so the stream does not depend on what this one does.
        let more = match self.arrivals_left.as_mut() {
            Some(n) => {
                *n -= 1;
                *n > 0
            }
            None => true,
        };
        if more {
            let next = match self.arrival_rate {
                None => now,
                Some(rate) => now + self.arrival_gap(rate),
            };
            if self.arrival_until.is_none_or(|u| next < u) {
                self.push(next, Ev::Arrive);
            }
        }
        let kind = self.pick_type();
        let p = self.results.len() as u32;
        let id = format!("S{p}");
        let n = self.plan.items.len();
        let tasks = if self.keep_tasks {
            vec![
                TaskTimes {
                    ready: NONE,
                    start: NONE,
                    end: NONE
                };
                n
            ]
        } else {
            Vec::new()
        };
        self.results.push(ProjectResult::new(kind, now, tasks));
        self.live.push(Live::new(id, None, n));
        let site = self.draw_site(kind);
        let checks = self.variant.site_check;
        let blocked = site.as_ref().is_some_and(|c| c.blocking);
        if let (Some(c), false) = (&site, checks) {
            self.live[p as usize].site_conflict = c
                .findings
                .iter()
                .find(|f| f.blocking)
                .map(|f| f.department.clone());
        }
        let submission = Submission {
            applicant: "simulated".into(),
            agent: None,
            form: self.variant.types[kind].form.clone(),
            materials: self.materials.clone(),
            site: site.filter(|_| checks),
        };
        let at = self.datetime(now);
        self.commands += 1;
        let command = Command::Submit {
            version: self.plan.version.clone(),
            submission,
        };
        let live = &mut self.live[p as usize];
        let plan = self.plan;
        match onewindow_engine::execute(
            &mut live.project,
            &live.id,
            |_| Some(plan),
            &self.policy,
            &Actor::Window,
            command,
            at,
        ) {
            Ok((out, _)) => self.react(p, out),
            Err(_) => {
                self.results[p as usize].refused = true;
                self.results[p as usize].site_stopped = checks && blocked;
                self.close(p);
            }
        }
    }

    /// A site for an arriving project, checked against the scenario's blueprint (`None`
    /// without sites, or for a drawn site the check cannot use).
    fn draw_site(&mut self, kind: usize) -> Option<onewindow_blueprint::check::SiteCheck> {
        let sites = self.variant.sites.as_ref()?;
        let e = sites.extent;
        let [lo, hi] = sites.size_m;
        let mut u = |a: f64, b: f64| a + (b - a) * self.sites_rng.random::<f64>();
        let (w, h) = (u(lo, hi), u(lo, hi));
        let (x, y) = (u(e.min().x, e.max().x - w), u(e.min().y, e.max().y - h));
        let rect = geo::Rect::new(
            geo::coord! { x: x, y: y },
            geo::coord! { x: x + w, y: y + h },
        );
        let degrees = onewindow_blueprint::unproject(
            &sites.blueprint.zone,
            &geo::MultiPolygon::new(vec![rect.to_polygon()]),
        )?;
        let industry = onewindow_blueprint::check::industry_of(&self.variant.types[kind].form);
        onewindow_blueprint::check::check_site(&sites.blueprint, &degrees, industry).ok()
    }

    fn pick_type(&mut self) -> usize {
        if self.weights.len() == 1 {
            return 0;
        }
        let total: f64 = self.weights.iter().sum();
        let mut x = self.arrivals_rng.random::<f64>() * total;
        for (k, w) in self.weights.iter().enumerate() {
            if x < *w {
                return k;
            }
            x -= w;
        }
        self.weights.len() - 1
    }
}
