//! The command-line grammar (clap). Commands and flags follow the command contract in
//! `docs/architecture.md`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tollgate_core::ReportFormat;
use tollgate_sbom::format::{CycloneDxVersion, SbomFormat};

/// Tollgate: prove a release is ready — SBOMs, dependency and contract gates, signed evidence.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); TOLLGATE_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every release stage, write target/tollgate/<run-id>/, print go / no-go.
    Release(ReleaseArgs),
    /// Configuration (tollgate.toml).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Generate an SBOM for a source tree, or compare SBOMs.
    Sbom(SbomArgs),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Signed attestations about artifacts (SLSA provenance).
    #[command(subcommand)]
    Attest(AttestCommand),
    /// Sign a file: a Sigstore bundle v0.3 holding a message signature.
    Sign(SignArgs),
    /// Verify a Sigstore bundle or DSSE envelope: signature, key, payload type, every subject's
    /// digest against the files on disk, and a policy. Exit 1 when verification fails.
    Verify(VerifyArgs),
    /// PostgreSQL: schema migrations, backups to an object store, retention, verification and
    /// restores.
    #[command(subcommand)]
    Db(DbCommand),
    /// API contract gates: OpenAPI, GraphQL SDL and JSON Schema compatibility.
    #[command(subcommand)]
    Contracts(ContractsCommand),
    /// Evidence bundles: a reproducible archive of a release run with a signed hash manifest.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// The Kubernetes operator: install manifests.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// List every gate's rules: id, default level, what it detects.
    Rules(RulesArgs),
}

/// `tollgate rules [GATE]`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Only this gate's rules (sbom, contracts, attest, evidence, db, db-backup, db-retention,
    /// db-verify).
    pub gate: Option<String>,
}

/// `tollgate operator …`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Write the operator's install manifests (CRDs, least-privilege RBAC, Deployment, Service,
    /// NetworkPolicy) into a directory.
    Manifests(OperatorManifestsArgs),
}

/// `tollgate operator manifests --output-dir DIR [--watch-namespace NS]...`.
#[derive(Debug, Args)]
pub struct OperatorManifestsArgs {
    /// Directory to write crds.yaml, rbac.yaml, deployment.yaml, service.yaml and
    /// networkpolicy.yaml into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,
    /// A namespaced install watching only these namespaces (repeatable): a Role and
    /// RoleBinding in each instead of the ClusterRole.
    #[arg(long = "watch-namespace", value_name = "NS")]
    pub watch_namespace: Vec<String>,
}

/// `tollgate evidence …`.
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Bundle a release run directory into a reproducible .tar.gz or .tar.zst with a signed
    /// manifest.
    Build(EvidenceBuildArgs),
    /// Verify a bundle offline: signature, every file's size and digests, no extra or missing
    /// files, no unsafe paths or links. Exit 1 when verification fails.
    Verify(EvidenceVerifyArgs),
    /// Summarise a bundle (not verified: use `verify` for that), with control coverage.
    Show(EvidenceShowArgs),
    /// Print the control catalogs and the effective evidence kind -> control mapping.
    Controls(EvidenceControlsArgs),
    /// Verify a bundle and publish it to object storage (a directory or S3) under
    /// `<prefix>/<run id>/`, with a `.publication.json` sidecar; never overwrites. Exit 1 when
    /// refused (does not verify, or other bytes are published under its key).
    Publish(EvidencePublishArgs),
    /// The release's git range (previous release tag..HEAD, or --range A..B): every commit with
    /// authorship and signature status, as git.json; unsigned commits are findings.
    Git(EvidenceGitArgs),
    /// Change-management evidence from GitHub for each commit of the release range: its pull
    /// request, reviews, required checks; as changes.json. Exit 1 when a change lacks a merged
    /// PR, an independent approval or a passing required check.
    Changes(EvidenceChangesArgs),
}

/// `tollgate evidence git [--root R] [--range A..B] [--output FILE]`.
#[derive(Debug, Args)]
pub struct EvidenceGitArgs {
    /// A directory inside the repository (its tollgate.toml is read from here).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The range `A..B` (default: from the previous `vX.Y.Z`/`X.Y.Z` tag to HEAD).
    #[arg(long, value_name = "A..B")]
    pub range: Option<String>,
    /// Where to write git.json, atomically (default: `<root>/<[release] out_dir>/git.json`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Report format and file.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate evidence changes --repo OWNER/NAME [--root R] [--range A..B] [--output FILE]`.
#[derive(Debug, Args)]
pub struct EvidenceChangesArgs {
    /// The GitHub repository; token from GITHUB_TOKEN, API from GITHUB_API_URL (GHE:
    /// `https://HOST/api/v3`).
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    pub repo: String,
    /// A directory inside the repository (its tollgate.toml is read from here).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The range `A..B` (default: from the previous `vX.Y.Z`/`X.Y.Z` tag to HEAD).
    #[arg(long, value_name = "A..B")]
    pub range: Option<String>,
    /// Where to write changes.json, atomically (default:
    /// `<root>/<[release] out_dir>/changes.json`).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Report format and file.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate evidence build [RUN_DIR] --key KEY --output FILE`.
#[derive(Debug, Args)]
pub struct EvidenceBuildArgs {
    /// The release run directory (default: the newest run under `[release] out_dir`).
    pub run_dir: Option<PathBuf>,
    /// Private key (PKCS#8 PEM or cosign's encrypted format) that signs the manifest.
    #[arg(long)]
    pub key: PathBuf,
    /// The bundle to write, atomically: .tar.gz (.tgz) or .tar.zst (.tzst), by its name.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Repository root whose tollgate.toml names the run directories (for the default RUN_DIR).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// `tollgate evidence verify --key PUB FILE`.
#[derive(Debug, Args)]
pub struct EvidenceVerifyArgs {
    /// Public key (PEM, SubjectPublicKeyInfo) the manifest's signature must verify with.
    #[arg(long)]
    pub key: PathBuf,
    /// The bundle.
    pub file: PathBuf,
}

/// `tollgate evidence publish FILE --key PUB --store URL [--retention D] [--object-lock MODE]`.
#[derive(Debug, Args)]
pub struct EvidencePublishArgs {
    /// The bundle (.tar.gz or .tar.zst); verified before it is published.
    pub file: PathBuf,
    /// Public key (PEM, SubjectPublicKeyInfo) the bundle's manifest signature must verify with.
    #[arg(long)]
    pub key: PathBuf,
    /// Where to publish: a directory, `file:///dir`, or
    /// `s3://bucket[/prefix][?endpoint=URL&region=R]` (credentials from `AWS_*`).
    #[arg(long)]
    pub store: String,
    /// Keep the bundle at least this long: `400d`, `7y`, `52w` (on S3 as object lock; on a
    /// directory recorded in the sidecar, files made read-only).
    #[arg(long, value_parser = parse_retention)]
    pub retention: Option<std::time::Duration>,
    /// S3 object lock mode: governance or compliance (default with --retention: compliance).
    #[arg(long, value_name = "MODE", value_parser = clap::value_parser!(tollgate_evidence::publish::LockMode))]
    pub object_lock: Option<tollgate_evidence::publish::LockMode>,
    /// Also attach the bundle to the GitHub release with this tag (token from GITHUB_TOKEN,
    /// API from GITHUB_API_URL); an existing asset of that name is never overwritten.
    #[arg(long, value_name = "TAG", requires = "github_repo")]
    pub github_release: Option<String>,
    /// The GitHub repository holding the release (with --github-release).
    #[arg(long, value_name = "OWNER/NAME", env = "GITHUB_REPOSITORY")]
    pub github_repo: Option<String>,
}

/// `tollgate evidence show FILE`.
#[derive(Debug, Args)]
pub struct EvidenceShowArgs {
    /// The bundle.
    pub file: PathBuf,
}

/// `tollgate evidence controls [--format human|json] [--root DIR]`.
#[derive(Debug, Args)]
pub struct EvidenceControlsArgs {
    /// Output format: `human` (a table) or `json` (catalogs and mapping, for auditors' tools).
    #[arg(long, default_value = "human", value_parser = ["human", "json"])]
    pub format: String,
    /// Repository root whose tollgate.toml `[evidence]` overrides the default mapping.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// `tollgate release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Repository root to release.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Where run directories go (default: `[release] out_dir`, target/tollgate).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Private key (PKCS#8 PEM or cosign's encrypted format) for the `attest` stage (default:
    /// `[attest] key`; without one, an ephemeral key is generated and labelled as such).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Only these stages, comma-separated (run in pipeline order; default: `[release] stages`,
    /// every stage): sbom, contracts, attest, evidence.
    #[arg(long, value_name = "STAGE,...", value_delimiter = ',')]
    pub stages: Option<Vec<tollgate_release::Stage>>,
}

/// `tollgate config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration: defaults overlaid with tollgate.toml.
    Show {
        /// Repository root holding tollgate.toml.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

/// `tollgate sbom [PATH]` or `tollgate sbom diff|baseline`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SbomArgs {
    /// `diff` or `baseline`; without one, generate an SBOM.
    #[command(subcommand)]
    pub command: Option<SbomCommand>,
    /// What to generate.
    #[command(flatten)]
    pub generate: SbomGenerateArgs,
}

/// `tollgate sbom [PATH]` options.
#[derive(Debug, Args)]
pub struct SbomGenerateArgs {
    /// A directory to scan (honouring .gitignore), or one or more lockfiles.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "cyclonedx-json", value_parser = parse_sbom_format)]
    pub format: SbomFormat,
    /// CycloneDX specification version.
    #[arg(long, default_value = "1.6", value_parser = parse_spec_version)]
    pub spec_version: CycloneDxVersion,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Fail (exit 2) on the first lockfile of the tree that cannot be catalogued, instead of
    /// reporting it as a finding and leaving it out (explicitly named lockfiles always do).
    #[arg(long)]
    pub strict: bool,
    /// List every lockfile found and what happened to it (catalogued, excluded by which
    /// pattern, skipped and why) on standard output; the SBOM is written only with --output.
    #[arg(long)]
    pub explain: bool,
    /// The scan's findings (lockfiles left out), also shown on standard error.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// SBOM subcommands.
#[derive(Debug, Subcommand)]
pub enum SbomCommand {
    /// Compare two SBOMs (CycloneDX or SPDX JSON) and report the changes as a gate.
    Diff(SbomDiffArgs),
    /// Write the committed baseline SBOMs (sbom/), or check they are current with --check.
    Baseline(SbomBaselineArgs),
}

/// `tollgate sbom diff OLD NEW`.
#[derive(Debug, Args)]
pub struct SbomDiffArgs {
    /// The earlier SBOM.
    pub old: PathBuf,
    /// The later SBOM.
    pub new: PathBuf,
    /// Repository root holding tollgate.toml ([sbom.diff] severities).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate sbom baseline [--check]`.
#[derive(Debug, Args)]
pub struct SbomBaselineArgs {
    /// Repository root.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Do not write: exit 1 if the committed baseline differs from what would be written.
    #[arg(long)]
    pub check: bool,
}

/// `tollgate keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key pair: DIR/tollgate.key (PKCS#8 PEM, mode 0600) and DIR/tollgate.pub.
    /// Refuses to overwrite; never prints the private key.
    Generate(KeysGenerateArgs),
}

/// `tollgate keys generate --output-dir DIR`.
#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// Directory for tollgate.key and tollgate.pub (created if missing).
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Signature algorithm.
    #[arg(long, value_enum, default_value_t = KeyAlgorithmArg::EcdsaP256)]
    pub algorithm: KeyAlgorithmArg,
}

/// `--algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyAlgorithmArg {
    /// ECDSA on NIST P-256 with SHA-256 (what cosign uses).
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

/// `tollgate attest …`.
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Sign SLSA Provenance v1 over ARTIFACT... (files or directories): an in-toto Statement
    /// in a DSSE envelope, written as a Sigstore bundle v0.3 (or the bare envelope).
    Provenance(AttestProvenanceArgs),
}

/// How to sign: a key file, or keyless (OIDC -> Fulcio -> Rekor).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SigningKeyArgs {
    /// Private key: PKCS#8 PEM or cosign's encrypted key (password from TOLLGATE_KEY_PASSWORD
    /// or COSIGN_PASSWORD).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Sign keyless: an OIDC identity token exchanged for a Fulcio certificate, logged in Rekor.
    ///
    /// The token is SIGSTORE_ID_TOKEN, or GitHub Actions' (with `permissions: id-token:
    /// write`). Fulcio and Rekor are the public-good instances unless SIGSTORE_FULCIO_URL /
    /// SIGSTORE_REKOR_URL name others (a private Sigstore); HTTPS proxies come from
    /// HTTPS_PROXY / NO_PROXY.
    #[arg(long)]
    pub keyless: bool,
}

/// `tollgate attest provenance --key KEY --output FILE ARTIFACT...`.
#[derive(Debug, Args)]
pub struct AttestProvenanceArgs {
    /// The signing key.
    #[command(flatten)]
    pub signing: SigningKeyArgs,
    /// Write the bundle (or envelope) here, atomically.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Output format: a Sigstore bundle v0.3 (default) or the bare DSSE envelope.
    #[arg(long, value_enum, default_value_t = EnvelopeFormat::Bundle)]
    pub envelope: EnvelopeFormat,
    /// The source repository whose commit the provenance records.
    #[arg(long, default_value = ".")]
    pub source: PathBuf,
    /// Files, or directories of files, to attest (each file becomes a subject).
    #[arg(required = true)]
    pub artifacts: Vec<PathBuf>,
}

/// `--envelope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvelopeFormat {
    /// Sigstore bundle v0.3 JSON (application/vnd.dev.sigstore.bundle.v0.3+json).
    Bundle,
    /// The bare DSSE envelope.
    Dsse,
}

/// `tollgate sign --key KEY --output FILE BLOB`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signing key.
    #[command(flatten)]
    pub signing: SigningKeyArgs,
    /// Write the bundle here, atomically.
    #[arg(long, short)]
    pub output: PathBuf,
    /// The file to sign.
    pub blob: PathBuf,
}

/// `tollgate verify --key PUB --bundle FILE [policy] [--subset] ARTIFACT...`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key (PEM, SubjectPublicKeyInfo) the signature must verify with.
    #[arg(long)]
    pub key: PathBuf,
    /// Sigstore bundle (attestation or blob signature) or bare DSSE envelope.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Accepted builder id (repeat for several); the provenance must name one of them.
    #[arg(long = "builder-id", value_name = "ID")]
    pub builder_ids: Vec<String>,
    /// The source repository the provenance must record.
    #[arg(long, value_name = "URL")]
    pub source_repo: Option<String>,
    /// The source ref (e.g. refs/tags/v1.2.0) the provenance must record.
    #[arg(long, value_name = "REF")]
    pub source_ref: Option<String>,
    /// Reject attestations older than this: a number with s, m, h, d or w (30d, 12h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_age: Option<std::time::Duration>,
    /// Check only the artifacts given (each must be a subject and match) and list the subjects
    /// that were NOT checked; without it, every subject must be among the artifacts.
    #[arg(long)]
    pub subset: bool,
    /// The artifacts (files or directories) whose digests must match the subjects; together
    /// they must hold every subject unless --subset is given. For a blob signature, the one
    /// signed file.
    #[arg(required = true)]
    pub artifacts: Vec<PathBuf>,
}

/// `tollgate db …`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations under an advisory lock (refuses drift and, unless allowed or
    /// approved by plan hash, destructive statements).
    Migrate(DbMigrateArgs),
    /// Show pending migrations, the plan hash and destructive statements; apply nothing.
    Plan(DbMigrateArgs),
    /// List applied and pending migrations and any drift; apply nothing.
    Status(DbMigrateArgs),
    /// `pg_dump` (custom format) streamed through SHA-256 and optional age encryption into a store.
    Backup(DbBackupArgs),
    /// List the backups in a store.
    List(DbListArgs),
    /// GFS retention: show what would be deleted and why (dry run), or delete with --apply.
    Retention(DbRetentionArgs),
    /// Verify a backup: checksum, archive table of contents, or a full test restore.
    Verify(DbVerifyArgs),
    /// Restore a backup into a database (refuses a non-empty target without --replace).
    Restore(DbRestoreArgs),
}

/// `--database-url` (or TOLLGATE_DATABASE_URL).
#[derive(Debug, Args)]
pub struct DatabaseUrlArgs {
    /// PostgreSQL connection URL (postgres://user@host:port/db).
    #[arg(long, env = "TOLLGATE_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: String,
}

/// `tollgate db migrate|plan|status --database-url URL --dir DIR`.
#[derive(Debug, Args)]
pub struct DbMigrateArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseUrlArgs,
    /// Where the migrations come from.
    #[command(flatten)]
    pub source: MigrationSourceArgs,
    /// Apply destructive statements (DROP TABLE, TRUNCATE, type changes…) without approval.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Approve destructive statements of exactly this plan (the hash `tollgate db plan` prints).
    #[arg(long, value_name = "PLAN_HASH")]
    pub approve: Option<String>,
    /// How long to wait for the migration lock and for table locks (e.g. 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Longest a single statement may run (e.g. 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub statement_timeout: std::time::Duration,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// One migration source: `--dir`, `--configmap` or `--git-repo` with `--git-commit`.
#[derive(Debug, Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("migration_source").required(true).multiple(false)))]
pub struct MigrationSourceArgs {
    /// Directory of V<version>__<name>.sql (and optional U<version>__<name>.sql) files.
    #[arg(long, value_name = "DIR", group = "migration_source")]
    pub dir: Option<PathBuf>,
    /// A ConfigMap YAML file whose `data` maps file names to SQL.
    #[arg(long, value_name = "FILE", group = "migration_source")]
    pub configmap: Option<PathBuf>,
    /// A git repository; the migrations are read from --git-commit (no checkout).
    #[arg(long, value_name = "REPO", requires = "git_commit", group = "migration_source")]
    pub git_repo: Option<PathBuf>,
    /// The pinned commit (or any revision) of --git-repo.
    #[arg(long, value_name = "COMMIT", requires = "git_repo")]
    pub git_commit: Option<String>,
    /// Directory of the migrations inside --git-repo (default: the root).
    #[arg(long, value_name = "PATH", requires = "git_repo")]
    pub git_path: Option<String>,
}

/// `tollgate db backup --database-url URL --store URL [--recipient AGE_PUBKEY]...`.
#[derive(Debug, Args)]
pub struct DbBackupArgs {
    /// The database to back up.
    #[command(flatten)]
    pub database: DatabaseUrlArgs,
    /// Object store: a local directory (path or file://) or s3://bucket/prefix.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Encrypt to this age X25519 public key (age1…); repeat for several recipients.
    #[arg(long = "recipient", value_name = "AGE_PUBKEY")]
    pub recipients: Vec<String>,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate db list --store URL`.
#[derive(Debug, Args)]
pub struct DbListArgs {
    /// Object store: a local directory (path or file://) or s3://bucket/prefix.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `tollgate db retention --store URL [--keep-… N] [--apply]`.
#[derive(Debug, Args)]
pub struct DbRetentionArgs {
    /// Object store: a local directory (path or file://) or s3://bucket/prefix.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Keep the newest N backups.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N hours.
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// Keep the newest backup of each of the last N days.
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks.
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months.
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Keep the newest backup of each of the last N years.
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Never keep fewer than N restorable backups per database (complete, and not failed
    /// verification; default 1).
    #[arg(long, value_name = "N")]
    pub floor: Option<u32>,
    /// Delete staging files of interrupted uploads not written for this long (e.g. 6h, 2d;
    /// default 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub staging_grace: Option<std::time::Duration>,
    /// Delete what the policy selects (default: dry run, only list it).
    #[arg(long)]
    pub apply: bool,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `--tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyTierArg {
    /// The archive's SHA-256 matches its metadata.
    Checksum,
    /// Checksum, and `pg_restore --list` reads the archive's table of contents.
    Toc,
    /// Checksum, table of contents, and a full test restore into a scratch database.
    Restore,
}

/// `tollgate db verify --store URL BACKUP_ID --database-url URL [--tier …]`.
#[derive(Debug, Args)]
pub struct DbVerifyArgs {
    /// Object store: a local directory (path or file://) or s3://bucket/prefix.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The backup to verify.
    pub backup_id: String,
    /// The server used for test restores (a scratch database is created and dropped there).
    #[command(flatten)]
    pub database: DatabaseUrlArgs,
    /// How thoroughly to verify.
    #[arg(long, value_enum, default_value_t = VerifyTierArg::Toc)]
    pub tier: VerifyTierArg,
    /// age identity file (AGE-SECRET-KEY-…) for encrypted backups.
    #[arg(long, value_name = "AGE_IDENTITY_FILE")]
    pub identity: Option<PathBuf>,
    /// With `--tier restore`: a SQL query that must return `true` in the restored database
    /// (repeatable), e.g. `SELECT count(*) > 0 FROM orders`.
    #[arg(long = "query", value_name = "SQL")]
    pub queries: Vec<String>,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate db restore --store URL BACKUP_ID --database-url URL [--replace]`.
#[derive(Debug, Args)]
pub struct DbRestoreArgs {
    /// Object store: a local directory (path or file://) or s3://bucket/prefix.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// The backup to restore.
    pub backup_id: String,
    /// The target database.
    #[command(flatten)]
    pub database: DatabaseUrlArgs,
    /// Replace a non-empty target (its objects are dropped first).
    #[arg(long)]
    pub replace: bool,
    /// age identity file (AGE-SECRET-KEY-…) for encrypted backups.
    #[arg(long, value_name = "AGE_IDENTITY_FILE")]
    pub identity: Option<PathBuf>,
}

/// `tollgate contracts …`.
#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Compare two spec files and report breaking (error), dangerous (warning) and safe (info)
    /// changes as a gate.
    Diff(ContractsDiffArgs),
    /// Compare every spec in tollgate.toml (`[[contracts.specs]]`) with the same file at a git
    /// ref (default: the last release tag), read from git objects; breaking changes fail
    /// unless the version says major or an exception in force covers them.
    Check(ContractsCheckArgs),
    /// Print every rule: id, level, area, direction and description.
    Rules(ContractsRulesArgs),
    /// Print a Markdown changelog of the API changes since a git ref, grouped breaking /
    /// dangerous / safe.
    Changelog(ContractsChangelogArgs),
    /// Verify a running provider against every Pact file (V2–V4) in a directory, with the Pact
    /// reference implementation, and record the results. Exit 1 when an interaction fails.
    VerifyPacts(crate::commands::pact::VerifyPactsArgs),
    /// From recorded Pact results: is every consumer's latest verified version compatible with
    /// this provider version? Exit 1 listing the ones that are not.
    CanIDeploy(crate::commands::pact::CanIDeployArgs),
}

/// `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpecKindArg {
    /// OpenAPI 3.0 / 3.1, JSON or YAML.
    Openapi,
    /// GraphQL SDL.
    Graphql,
    /// JSON Schema (draft-07, 2020-12).
    Jsonschema,
}

/// `--compatibility` (JSON Schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompatibilityArg {
    /// New readers read data written with the old schema.
    Backward,
    /// Old readers read data written with the new schema.
    Forward,
    /// Both.
    Full,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeverityArg {
    /// Only errors fail.
    Error,
    /// Warnings and errors fail.
    Warning,
    /// Any finding fails.
    Info,
}

impl SeverityArg {
    /// The core severity.
    pub fn severity(self) -> tollgate_core::Severity {
        match self {
            SeverityArg::Error => tollgate_core::Severity::Error,
            SeverityArg::Warning => tollgate_core::Severity::Warning,
            SeverityArg::Info => tollgate_core::Severity::Info,
        }
    }
}

/// `tollgate contracts diff --kind K BASE REVISION`.
#[derive(Debug, Args)]
pub struct ContractsDiffArgs {
    /// The kind of both specs.
    #[arg(long, value_enum)]
    pub kind: SpecKindArg,
    /// JSON Schema compatibility mode.
    #[arg(long, value_enum, default_value_t = CompatibilityArg::Backward)]
    pub compatibility: CompatibilityArg,
    /// The earlier spec.
    pub base: PathBuf,
    /// The later spec.
    pub revision: PathBuf,
    /// OpenAPI: the directory `$ref`s may read files from (default: each spec's own
    /// directory); files outside it, non-regular files and files over 16 MiB are refused.
    #[arg(long, value_name = "DIR")]
    pub ref_root: Option<PathBuf>,
    /// Findings at or above this severity fail the gate (default: `[contracts] fail_on`).
    #[arg(long, value_enum)]
    pub fail_on: Option<SeverityArg>,
    /// Repository root holding tollgate.toml (`[contracts] levels`, `fail_on`).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate contracts check [--against REF]`.
#[derive(Debug, Args)]
pub struct ContractsCheckArgs {
    /// Git ref to compare with (default: `[contracts] against`, else the last release tag).
    #[arg(long, value_name = "REF")]
    pub against: Option<String>,
    /// Repository root holding tollgate.toml.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Findings at or above this severity fail the gate (default: `[contracts] fail_on`).
    #[arg(long, value_enum)]
    pub fail_on: Option<SeverityArg>,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate contracts rules [--kind K]`.
#[derive(Debug, Args)]
pub struct ContractsRulesArgs {
    /// Only this kind's rules.
    #[arg(long, value_enum)]
    pub kind: Option<SpecKindArg>,
}

/// `tollgate contracts changelog [--against REF]`.
#[derive(Debug, Args)]
pub struct ContractsChangelogArgs {
    /// Git ref to compare with (default: `[contracts] against`, else the last release tag).
    #[arg(long, value_name = "REF")]
    pub against: Option<String>,
    /// Repository root holding tollgate.toml.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `30d`, `12h`, `45m`, `90s`, `2w`: a positive whole number and a unit.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (s, m, h, d, w), e.g. 30d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use s, m, h, d or w")),
    };
    if n == 0 {
        return Err(format!("{s:?}: the maximum age must be positive"));
    }
    n.checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// A retention period: [`parse_duration`]'s units plus `y` (365 days), e.g. `7y`, `400d`.
pub fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    let Some(years) = s.trim().strip_suffix('y') else {
        return parse_duration(s);
    };
    let how = || format!("{s:?}: expected a number and a unit (s, m, h, d, w, y), e.g. 7y");
    let days = parse_duration(&format!("{years}d")).map_err(|_| how())?;
    days.checked_mul(365).ok_or_else(|| format!("{s:?}: too large"))
}

/// `--report-format` and `--report`, shared by every gate command.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How to render the gate report.
    #[arg(long, default_value = "human", value_parser = parse_report_format)]
    pub report_format: ReportFormat,
    /// Write the rendered report here (atomically) instead of standard output.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

fn parse_sbom_format(s: &str) -> Result<SbomFormat, String> {
    s.parse()
}

fn parse_spec_version(s: &str) -> Result<CycloneDxVersion, String> {
    s.parse()
}

fn parse_report_format(s: &str) -> Result<ReportFormat, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sbom_path_and_subcommands_coexist() {
        let cli =
            Cli::try_parse_from(["tollgate", "sbom", "some/dir", "--format", "spdx-json"]).unwrap();
        let Command::Sbom(args) = cli.command else { panic!("not sbom") };
        assert!(args.command.is_none());
        assert_eq!(args.generate.paths, [PathBuf::from("some/dir")]);
        assert_eq!(args.generate.format, SbomFormat::SpdxJson);
        let cli = Cli::try_parse_from([
            "tollgate",
            "sbom",
            "diff",
            "a.json",
            "b.json",
            "--report-format",
            "sarif",
        ])
        .unwrap();
        let Command::Sbom(SbomArgs { command: Some(SbomCommand::Diff(d)), .. }) = cli.command
        else {
            panic!("not diff")
        };
        assert_eq!(d.report.report_format, ReportFormat::Sarif);
    }

    #[test]
    fn attest_sign_and_verify_grammar() {
        let cli = Cli::try_parse_from([
            "tollgate",
            "attest",
            "provenance",
            "--key",
            "k.key",
            "--envelope",
            "dsse",
            "--output",
            "out.json",
            "a",
            "b",
        ])
        .unwrap();
        let Command::Attest(AttestCommand::Provenance(a)) = cli.command else { panic!("attest") };
        assert_eq!(a.signing.key.as_deref(), Some(std::path::Path::new("k.key")));
        assert!(!a.signing.keyless);
        assert_eq!(a.envelope, EnvelopeFormat::Dsse);
        assert_eq!(a.artifacts, [PathBuf::from("a"), PathBuf::from("b")]);
        // The default output is a bundle.
        let cli =
            Cli::try_parse_from(["tollgate", "attest", "provenance", "--keyless", "-o", "o", "a"])
                .unwrap();
        let Command::Attest(AttestCommand::Provenance(a)) = cli.command else { panic!("attest") };
        assert_eq!(a.envelope, EnvelopeFormat::Bundle);
        assert!(a.signing.keyless);

        let cli = Cli::try_parse_from([
            "tollgate",
            "verify",
            "--key",
            "k.pub",
            "--bundle",
            "b.json",
            "--builder-id",
            "one",
            "--builder-id",
            "two",
            "--source-repo",
            "https://example.com/r",
            "--max-age",
            "30d",
            "art",
        ])
        .unwrap();
        let Command::Verify(v) = cli.command else { panic!("verify") };
        assert_eq!(v.builder_ids, ["one", "two"]);
        assert_eq!(v.source_repo.as_deref(), Some("https://example.com/r"));
        assert_eq!(v.max_age, Some(std::time::Duration::from_secs(30 * 86_400)));

        let cli =
            Cli::try_parse_from(["tollgate", "keys", "generate", "--output-dir", "d"]).unwrap();
        let Command::Keys(KeysCommand::Generate(g)) = cli.command else { panic!("keys") };
        assert_eq!(g.algorithm, KeyAlgorithmArg::EcdsaP256);
    }

    #[test]
    fn signing_needs_exactly_one_of_key_and_keyless() {
        for args in [
            &["tollgate", "sign", "--output", "o", "blob"][..],
            &["tollgate", "sign", "--key", "k", "--keyless", "--output", "o", "blob"],
            &["tollgate", "attest", "provenance", "--key", "k", "--output", "o"],
            &["tollgate", "verify", "--key", "k", "--bundle", "b"],
            &["tollgate", "keys", "generate", "--output-dir", "d", "--algorithm", "rsa"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn db_grammar() {
        let cli = Cli::try_parse_from([
            "tollgate",
            "db",
            "migrate",
            "--database-url",
            "postgres://u@h/d",
            "--dir",
            "migrations",
            "--approve",
            "abc",
            "--lock-timeout",
            "30s",
        ])
        .unwrap();
        let Command::Db(DbCommand::Migrate(m)) = cli.command else { panic!("migrate") };
        assert_eq!(m.database.database_url, "postgres://u@h/d");
        assert_eq!(m.source.dir, Some(PathBuf::from("migrations")));
        assert_eq!(m.approve.as_deref(), Some("abc"));
        assert!(!m.allow_destructive);
        assert_eq!(m.lock_timeout, std::time::Duration::from_secs(30));
        assert_eq!(m.statement_timeout, std::time::Duration::from_secs(300));

        let cli = Cli::try_parse_from([
            "tollgate",
            "db",
            "backup",
            "--database-url",
            "postgres://x",
            "--store",
            "s3://b/p",
            "--recipient",
            "age1a",
            "--recipient",
            "age1b",
        ])
        .unwrap();
        let Command::Db(DbCommand::Backup(b)) = cli.command else { panic!("backup") };
        assert_eq!(b.recipients, ["age1a", "age1b"]);
        assert_eq!(b.store, "s3://b/p");

        let cli = Cli::try_parse_from([
            "tollgate",
            "db",
            "retention",
            "--store",
            "/tmp/s",
            "--keep-daily",
            "7",
            "--floor",
            "2",
        ])
        .unwrap();
        let Command::Db(DbCommand::Retention(r)) = cli.command else { panic!("retention") };
        assert_eq!((r.keep_daily, r.floor, r.apply), (Some(7), Some(2), false));

        let cli = Cli::try_parse_from([
            "tollgate",
            "db",
            "verify",
            "--store",
            "/s",
            "ID1",
            "--database-url",
            "postgres://x",
            "--tier",
            "restore",
        ])
        .unwrap();
        let Command::Db(DbCommand::Verify(v)) = cli.command else { panic!("verify") };
        assert_eq!((v.backup_id.as_str(), v.tier), ("ID1", VerifyTierArg::Restore));

        let cli = Cli::try_parse_from([
            "tollgate",
            "db",
            "restore",
            "--store",
            "/s",
            "ID2",
            "--database-url",
            "postgres://x",
            "--replace",
        ])
        .unwrap();
        let Command::Db(DbCommand::Restore(r)) = cli.command else { panic!("restore") };
        assert!(r.replace);
        assert_eq!(r.backup_id, "ID2");

        let cli = Cli::try_parse_from(["tollgate", "db", "list", "--store", "/s"]).unwrap();
        assert!(matches!(cli.command, Command::Db(DbCommand::List(_))));

        for args in [
            &["tollgate", "db", "migrate", "--database-url", "x"][..],
            &["tollgate", "db", "migrate", "--database-url", "x", "--dir", "d", "--configmap", "c"],
            &["tollgate", "db", "status", "--database-url", "x", "--git-repo", "r"],
            &["tollgate", "db", "verify", "--store", "s", "--database-url", "x"],
            &[
                "tollgate",
                "db",
                "verify",
                "--store",
                "s",
                "I",
                "--database-url",
                "x",
                "--tier",
                "no",
            ],
            &["tollgate", "db", "plan", "--database-url", "x", "--dir", "d", "--lock-timeout", "5"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn contracts_grammar() {
        let cli = Cli::try_parse_from([
            "tollgate",
            "contracts",
            "diff",
            "--kind",
            "jsonschema",
            "--compatibility",
            "full",
            "a.json",
            "b.json",
            "--fail-on",
            "warning",
            "--report-format",
            "sarif",
            "--ref-root",
            "api",
        ])
        .unwrap();
        let Command::Contracts(ContractsCommand::Diff(d)) = cli.command else { panic!("diff") };
        assert_eq!((d.kind, d.compatibility), (SpecKindArg::Jsonschema, CompatibilityArg::Full));
        assert_eq!(d.ref_root.as_deref(), Some(std::path::Path::new("api")));
        assert_eq!(d.fail_on, Some(SeverityArg::Warning));
        let cli =
            Cli::try_parse_from(["tollgate", "contracts", "check", "--against", "v1.0.0"]).unwrap();
        let Command::Contracts(ContractsCommand::Check(c)) = cli.command else { panic!("check") };
        assert_eq!(c.against.as_deref(), Some("v1.0.0"));
        for args in [
            &["tollgate", "contracts", "diff", "a", "b"][..],
            &["tollgate", "contracts", "diff", "--kind", "soap", "a", "b"],
            &["tollgate", "contracts", "rules", "--kind", "x"],
        ] {
            assert_eq!(Cli::try_parse_from(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h"), Ok(std::time::Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("90s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(std::time::Duration::from_secs(14 * 86_400)));
        for bad in ["", "d", "30", "30y", "-1d", "0d", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retentions_take_years() {
        let day = 86_400;
        assert_eq!(parse_retention("7y"), Ok(std::time::Duration::from_secs(7 * 365 * day)));
        assert_eq!(parse_retention("400d"), Ok(std::time::Duration::from_secs(400 * day)));
        for bad in ["", "y", "0y", "-1y", "1.5y", "7x", "99999999999999999y"] {
            assert!(parse_retention(bad).is_err(), "{bad}");
        }
        let args = "tollgate evidence publish b.tar.gz --key k.pub --store s3://b --retention 7y \
                    --object-lock governance";
        let cli = Cli::try_parse_from(args.split_whitespace()).unwrap();
        let Command::Evidence(EvidenceCommand::Publish(p)) = cli.command else { panic!("publish") };
        assert_eq!(p.retention, Some(std::time::Duration::from_secs(7 * 365 * day)));
        assert_eq!(p.object_lock, Some(tollgate_evidence::publish::LockMode::Governance));
        let bad = ["tollgate", "evidence", "publish", "b", "--key", "k", "--store", "d"];
        let err = Cli::try_parse_from([&bad[..], &["--object-lock", "legal-hold"]].concat());
        assert_eq!(err.unwrap_err().exit_code(), 2);
    }

    #[test]
    fn bad_spec_version_is_a_usage_error() {
        let err = Cli::try_parse_from(["tollgate", "sbom", "--spec-version", "1.2"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
