//! The fuzz targets' committed corpora (`fuzz/corpus/<target>/`), replayed through the
//! same entry points the fuzzer drives (`onewindow_testkit::fuzzing`): every input that once
//! found new code keeps being run by the normal test run, without libFuzzer. An input
//! that panics here is a finding; add it to the corpus with its fix.

#[test]
fn every_committed_fuzz_input_runs_without_a_panic() {
    let mut total = 0;
    for (target, run) in onewindow_testkit::fuzzing::TARGETS {
        let n = onewindow_testkit::fuzzing::replay(target, run);
        assert!(n > 0, "the corpus of `{target}` is committed");
        eprintln!("{target}: {n} inputs");
        total += n;
    }
    assert!(total > 0);
}
