//! Fleet and scenario files for fleetsim: the types every other crate works
//! from, their defaults (docs/domain-coverage.md's figures), and validation whose errors
//! name the file, line, column and field and say what would be right.
//!
//! No tokio here: this crate only reads and checks descriptions.
//!
//! # Layout
//! - [`assertion`]: `never`, `eventually`, `count` and `state` over the
//!   event log, with times relative to faults.
//! - [`duration`]: human durations (`"500ms"`, `"3m"`, `"30d"`).
//! - [`event`]: typed events of a run ([`Event`], [`EventRecord`]).
//! - [`error`]: located errors ([`FileError`]) and [`LoadError`].
//! - [`fleet`]: servers, roles, services, lines, backups, phones, timers.
//! - [`fault`]: the fault vocabulary, targets (names, roles, globs), undo.
//! - [`external`]: members fleetsim does not run (`address`), and the
//!   faults it refuses on them.
//! - [`scenario`]: expectations, the call workload and the scenario itself.
//! - [`schema`]: every event's name and fields, for assertions.
//! - [`call`]: scripted calls (`[[call]]`): who calls what, when, how long.
//! - [`settings`]: service and resilience settings (`[resilience]`), hunt groups.
//! - [`generate`]: generated fleets for scale work and benchmarks.
//! - [`limits`]: the documented limits on sizes, durations and timers.
//! - [`read`]: reading files with a size cap and located UTF-8 errors.
//! - [`embedded`]: the scenarios and fleets built into the binary.
//! - [`suggest`]: "did you mean …?", the known name nearest a misspelt one.
//! - [`words`]: counts in words ("1 event", "2 events").

pub mod assertion;
pub mod call;
pub mod duration;
pub mod embedded;
pub mod error;
pub mod event;
pub mod external;
pub mod fault;
pub mod fleet;
pub mod generate;
pub mod limits;
pub mod read;
pub mod scenario;
pub mod schema;
pub mod settings;
pub mod suggest;
pub mod words;

pub use call::ScriptedCall;
pub use duration::{Dur, format_millis, human_ms, human_ms_beside, parse_duration};
pub use error::{FileError, LoadError, Source};
pub use event::{Event, EventKind, EventRecord, LossAudit};
pub use fault::{Fault, FaultKind, GrayPath, InForce};
pub use fleet::{
    Backup, BackupOption, Fleet, NetworkMode, PhoneKind, PhoneSpec, Role, ServerSpec, Service,
    Timers,
};
pub use read::{MAX_FILE_BYTES, read_limited, read_text};
pub use scenario::{CallKind, Calls, Expectation, NamedExpectation, Scenario};
pub use settings::{FailbackMode, HuntGroup, LicenceRule, Resilience, VoicemailFailback};
