//! The CI examples (`examples/ci/`) are YAML, and every `guacsync ...` command
//! they run is one the CLI accepts (parsed with its own clap definition and the
//! checks `main` adds). Each example validates strictly, plans to markdown with a
//! saved plan and a link to it, and applies the saved plan on merge, in that
//! order.

use guacsync::cli::{Command, check_command_line};
use guacsync::manifest::node::{Node, Value};

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("example exists")
}

/// The scripts of a CI file: GitHub's `run` values and GitLab's `script`,
/// `before_script` and `after_script` lists (nested lists from anchors included).
fn scripts(node: &Node, key: Option<&str>, out: &mut Vec<String>) {
    let script_key = matches!(
        key,
        Some("run" | "script" | "before_script" | "after_script")
    );
    match &node.value {
        Value::Scalar { text, .. } if script_key => out.push(text.clone()),
        Value::Scalar { .. } => {}
        Value::List(items) => {
            for item in items {
                scripts(item, if script_key { key } else { None }, out);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                scripts(v, k.as_text(), out);
            }
        }
    }
}

/// Splits one shell line into words and operators: quotes removed, `$VAR` and
/// `"${VAR}"` kept as a placeholder word, comments dropped.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<String>| {
        if *in_word {
            out.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut out),
            ';' | '|' | '&' | '>' | '<' | '(' | ')' => {
                flush(&mut word, &mut in_word, &mut out);
                let mut op = c.to_string();
                while let Some(&n) = chars.peek() {
                    if matches!(n, '|' | '&' | '>') {
                        op.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(op);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut out);
    out
}

fn is_operator(w: &str) -> bool {
    w.chars()
        .all(|c| matches!(c, ';' | '|' | '&' | '>' | '<' | '(' | ')'))
}

/// Every `guacsync` command in a script: the words from `guacsync` to the next
/// operator or redirection, where `guacsync` stands in command position.
fn guacsync_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let words = words(line);
        let mut command_position = true;
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            if command_position && w == "guacsync" {
                let end = words[i..]
                    .iter()
                    .position(|w| is_operator(w) || w.starts_with("2>"))
                    .map_or(words.len(), |n| i + n);
                found.push(words[i..end].to_vec());
                i = end;
                continue;
            }
            command_position =
                is_operator(w) || matches!(w.as_str(), "then" | "do" | "else" | "if" | "!" | "$");
            i += 1;
        }
    }
    found
}

fn check(path: &str) -> Vec<(String, Command)> {
    let text = repo_file(path);
    let (node, issues) = guacsync::manifest::yaml::read(&text);
    let issues: Vec<String> = issues
        .iter()
        .map(|i| format!("{path}:{}:{}: {}", i.pos.line, i.pos.column, i.message))
        .collect();
    assert!(issues.is_empty(), "{issues:#?}");
    let node = node.expect("a YAML document");
    assert!(matches!(node.value, Value::Map(_)), "{path}: a mapping");
    let mut all = Vec::new();
    scripts(&node, None, &mut all);
    assert!(!all.is_empty(), "{path}: no scripts found");
    let mut commands = Vec::new();
    for script in &all {
        for words in guacsync_commands(script) {
            let line = words.join(" ");
            let (cli, _) = check_command_line(&words)
                .unwrap_or_else(|e| panic!("{path}: `{line}` is not a valid command line:\n{e}"));
            commands.push((line, cli.command));
        }
    }
    commands
}

fn assert_workflow(path: &str) {
    let commands = check(path);
    let lines: Vec<&str> = commands.iter().map(|(l, _)| l.as_str()).collect();
    let position = |pred: &dyn Fn(&Command) -> bool| {
        commands
            .iter()
            .position(|(_, c)| pred(c))
            .unwrap_or_else(|| panic!("{path}: missing a command; it runs {lines:#?}"))
    };
    let validate = position(&|c| matches!(c, Command::Validate(a) if a.strict));
    let plan = position(&|c| {
        matches!(c, Command::Plan(a) if a.out.is_some()
            && a.format == guacsync::cli::plan::PlanFormat::Markdown
            && a.detailed_exitcode
            && a.full_plan_url.is_some())
    });
    let apply = position(&|c| matches!(c, Command::Sync(a) if a.plan_file.is_some() && !a.dry_run));
    assert!(validate < plan && plan < apply, "{path}: order {lines:#?}");
    // Nothing plans afresh and applies: every sync applies a saved plan.
    for (line, c) in &commands {
        if let Command::Sync(a) = c {
            assert!(a.plan_file.is_some() || a.dry_run, "{path}: `{line}`");
        }
    }
}

#[test]
fn github_actions_example() {
    assert_workflow("examples/ci/github-actions.yml");
    let text = repo_file("examples/ci/github-actions.yml");
    // One comment updated in place, found by the marker guacsync writes.
    assert!(text.contains(guacsync::plan::MARKER));
    assert!(text.contains("--method PATCH") && text.contains("actions/upload-artifact"));
    // Manifest secrets reach the job.
    assert!(text.contains("DB_SSH_PASSWORD: ${{ secrets.DB_SSH_PASSWORD }}"));
}

#[test]
fn gitlab_example() {
    assert_workflow("examples/ci/gitlab-ci.yml");
    let text = repo_file("examples/ci/gitlab-ci.yml");
    assert!(text.contains(guacsync::plan::MARKER));
    assert!(text.contains("--request PUT") && text.contains("artifacts:"));
    assert!(text.contains("DB_SSH_PASSWORD"));
}

#[test]
fn the_extractor_finds_commands_and_rejects_bad_ones() {
    let found = guacsync_commands(
        "set +e\nguacsync plan m --out p.json \\\n  --full-plan-url \"$URL/x\" > plan.md || [ $? -eq 2 ]\nif guacsync validate --strict m; then echo guacsync sync; fi\nx=$(guacsync --version)",
    );
    let lines: Vec<String> = found.iter().map(|w| w.join(" ")).collect();
    assert_eq!(
        lines,
        [
            "guacsync plan m --out p.json --full-plan-url $URL/x",
            "guacsync validate --strict m",
            "guacsync --version",
        ]
    );
    assert!(check_command_line(["guacsync", "plan", "--formatt", "json"]).is_err());
    assert!(check_command_line(["guacsync", "--url", "u", "validate"]).is_err());
    assert!(check_command_line(["guacsync", "sync", "--plan", "p.json"]).is_ok());
}

/// The value of `key` in a mapping node.
fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn list(node: &Node) -> &[Node] {
    match &node.value {
        Value::List(items) => items,
        _ => &[],
    }
}

#[test]
fn kubernetes_example_runs_the_image_with_the_repository_config() {
    let text = repo_file("examples/deploy/guacsync-watch.k8s.yaml");
    let mut containers = Vec::new();
    for doc in text.split("\n---\n") {
        let (node, issues) = guacsync::manifest::yaml::read(doc);
        assert!(
            issues.is_empty(),
            "{:?}",
            issues.iter().map(|i| &i.message).collect::<Vec<_>>()
        );
        let node = node.expect("a document");
        if let Some(spec) = get(&node, "spec")
            .and_then(|s| get(s, "template"))
            .and_then(|t| get(t, "spec"))
        {
            containers.extend(
                get(spec, "containers")
                    .map(list)
                    .unwrap_or_default()
                    .iter()
                    .cloned(),
            );
        }
    }
    let guacsync = containers
        .iter()
        .find(|c| get(c, "name").and_then(Node::as_text) == Some("guacsync"))
        .expect("a guacsync container");
    let image = get(guacsync, "image")
        .and_then(Node::as_text)
        .expect("image");
    assert!(image.ends_with("/guacsync:0.1.0"), "{image}");
    let mut args = vec!["guacsync".to_owned()];
    args.extend(
        list(get(guacsync, "args").expect("args"))
            .iter()
            .map(|a| a.as_text().expect("text").to_owned()),
    );
    let (cli, _) = check_command_line(&args).expect("valid arguments");
    let Command::Watch(watch) = &cli.command else {
        panic!("not watch: {args:?}");
    };
    // The probes reach the health endpoint the watcher serves.
    let health = watch.health_addr.expect("--health-addr");
    let port = list(get(guacsync, "ports").expect("ports"))
        .iter()
        .find(|p| get(p, "name").and_then(Node::as_text) == Some("health"))
        .and_then(|p| get(p, "containerPort"))
        .and_then(Node::as_text)
        .expect("a health port");
    assert_eq!(port, health.port().to_string());
    let readiness = get(guacsync, "readinessProbe")
        .and_then(|p| get(p, "httpGet"))
        .expect("an HTTP readiness probe");
    assert_eq!(
        get(readiness, "path").and_then(Node::as_text),
        Some("/healthz")
    );
    assert_eq!(
        get(readiness, "port").and_then(Node::as_text),
        Some("health")
    );
    assert!(
        get(guacsync, "livenessProbe")
            .and_then(|p| get(p, "tcpSocket"))
            .is_some(),
        "liveness only checks the process: a restart would reset the login backoff"
    );
    let config = list(get(guacsync, "env").expect("env"))
        .iter()
        .find(|e| get(e, "name").and_then(Node::as_text) == Some("GUACSYNC_CONFIG"))
        .and_then(|e| get(e, "value"))
        .and_then(Node::as_text)
        .expect(
            "GUACSYNC_CONFIG is set: otherwise the watcher runs without the repository's settings",
        );
    assert_eq!(config, "/manifests/current/guacsync.toml");
}

#[test]
fn systemd_unit_command_line_is_valid() {
    let text = repo_file("examples/deploy/guacsync-watch.service");
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut args = words(exec);
    args[0] = "guacsync".to_owned();
    check_command_line(&args).expect("valid arguments");
}
