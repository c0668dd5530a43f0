//! examples/axum_service.rs end to end, shortened: a real axum service under real HTTP load
//! over loopback, then its dump: the memo's leak is found in the memo's scope with its
//! producer (`render`) as the top call site, the bounded moka cache raises nothing, and
//! `unscoped` does not grow.

#[path = "../examples/axum_service.rs"]
mod service;

#[test]
fn the_memo_leaks_in_its_scope_moka_is_quiet_and_unscoped_holds_still() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.json");
    let config = service::config(path.to_str().unwrap()).unwrap();
    let answered = service::run(config, 10.0, 4000).unwrap();
    assert_eq!(answered, 4000);
    let dump = leakscope::dump::read_dump(&path).unwrap();
    let leaks_of = |scope: &str| -> Vec<_> {
        dump.leaks
            .iter()
            .filter(|l| l.finding.scope == scope)
            .collect()
    };
    let memo = leaks_of("render_memo");
    assert!(!memo.is_empty(), "no leak on the memo: {:#?}", dump.leaks);
    let top = memo[0]
        .finding
        .top_sites
        .first()
        .expect("the memo's leak names a call site");
    let names: Vec<&str> = top
        .frames
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    // The producer's body, named with its path in debug and release builds alike: in release
    // (line tables only) from the `Scoped::poll` generic over it, as `{async fn}`; in debug from
    // its linkage name, which legacy mangling spells `render::{{closure}}`.
    let producer = [
        "axum_service::service::render::{async fn}",
        "axum_service::service::render::{closure}",
    ];
    assert!(
        names.first().is_some_and(|n| producer.contains(n)),
        "the producer is not the top site: {names:#?}"
    );
    // leakscope's `Scoped::poll`, which the producer was polled through, is not shown: by
    // name in debug, by its file in release (where it reads `poll<..render::{async_fn_env#0}>`).
    let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    assert!(
        top.frames.iter().all(|f| {
            !f.file.as_deref().is_some_and(|file| file.contains(own))
                && !f
                    .function
                    .as_deref()
                    .is_some_and(|n| n.contains("leakscope::"))
        }),
        "leakscope's own frames in the site: {:#?}",
        top.frames
    );
    assert!(
        leaks_of("users_cache").is_empty(),
        "{:#?}",
        leaks_of("users_cache")
    );
    assert!(
        leaks_of("unscoped").is_empty(),
        "{:#?}",
        leaks_of("unscoped")
    );
    let scope = |name: &str| dump.scopes.iter().find(|s| s.name == name).unwrap();
    // 2,000 renders of 2-3 KB each are the memo's; unscoped stays well under that.
    assert!(
        scope("render_memo").stats.curr_bytes > 4_000_000,
        "{:?}",
        scope("render_memo").stats.curr_bytes
    );
    assert_eq!(scope("render_memo").entries, Some(2000));
    assert!(scope("users_cache").entries.unwrap() <= 500);
    // What the memo keeps is the memo's: unscoped holds a small fraction of it.
    assert!(
        scope("unscoped").stats.curr_bytes < scope("render_memo").stats.curr_bytes / 4,
        "unscoped {} vs memo {}",
        scope("unscoped").stats.curr_bytes,
        scope("render_memo").stats.curr_bytes
    );
}
