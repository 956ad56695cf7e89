//! A full disk is a clear `LogError::DiskFull`, never SIGBUS, and the END
//! frame still fits afterwards (the writer's reserve). Needs root to mount a
//! small tmpfs (CI runs as root); fails loudly where it cannot.

mod log_common;

use std::process::Command;

use log_common::*;
use probe::log::{verify_path, LogError, LogWriter};
use probe::model::{Status, Value};

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_is_an_error_and_the_end_marker_still_fits() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12m", "tmpfs"])
        .arg(&mnt)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "cannot mount a tmpfs at {} (this test needs root)",
        mnt.display()
    );
    let _guard = Mount(mnt.clone());
    let path = mnt.join("full.probe");
    let mut w = LogWriter::create(&path, false, &meta(1)).unwrap();
    let mut rng = Rng(3);
    let mut err = None;
    // Incompressible strings, so the log really grows.
    for seq in 0..10_000_000u64 {
        let text: String = (0..200)
            .map(|_| char::from(b'!' + rng.below(90) as u8))
            .collect();
        let r = rec(
            seq,
            seq,
            0,
            0,
            Status::Ok,
            Value::Str {
                text,
                truncated: false,
            },
        );
        if let Err(e) = w.append(&r) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the disk never filled up");
    assert!(matches!(err, LogError::DiskFull { .. }), "{err}");
    assert!(
        err.to_string().starts_with("disk full while growing"),
        "{err}"
    );
    // Further appends keep failing clearly.
    let s = w.stats();
    let again = w.append(&rec(s.records, 0, 0, 0, Status::Ok, Value::None));
    assert!(matches!(again, Err(LogError::DiskFull { .. })));
    // Records after the failure are counted as lost, not silently dropped.
    let _ = w.append(&rec(s.records + 1, 0, 0, 0, Status::Ok, Value::None));
    let end = w.finish(exit_ok(), 1).unwrap();
    assert!(end
        .exit
        .detail
        .as_deref()
        .unwrap()
        .contains("disk full while growing the log"));
    assert_eq!(end.total_records, s.records_in_frames);
    assert_eq!(end.lost_records, s.records + 2 - s.records_in_frames);
    let rep = verify_path(&path);
    assert_eq!(rep.exit_code(), 1, "lost records are a violation: {rep}");
    assert!(rep.to_string().contains("not in the log"), "{rep}");
    assert_eq!(rep.records, end.total_records);
}
