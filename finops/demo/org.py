"""The demo organization: a mid-size SaaS company on AWS ("Lumen Labs") with a small Azure subscription, as plain
frozen data.

Pure module: no Django imports, no randomness. The generator turns these definitions into usage;
everything that varies between runs comes from the seeded random generator there.

Months are counted from the first month of the generated window (0 = first month); a negative
start means the commitment was bought before the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BillingAccount:
    id: str
    name: str
    tax_rate: str  # applied to each month's billed cost per sub account and service
    provider: str = "AWS"  # a key of generator.PROVIDERS


@dataclass(frozen=True)
class SubAccount:
    id: str
    name: str
    billing_account: str  # BillingAccount.id


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    utc_offset: int  # hours; local business hours drive the daily cycle (no daylight saving)


@dataclass(frozen=True)
class ComputeGroup:
    """An EC2 fleet (Auto Scaling group or a few fixed instances), one row per pricing split and hour."""

    name: str
    sub_account: str
    region: str
    instance_type: str
    base_count: float  # average running instances in the first month
    profile: str  # daily/weekly shape, see generator.PROFILES
    growth: float  # per month, compounded hourly
    tags: dict[str, str] = field(default_factory=dict)
    spot: bool = False
    fixed: bool = False  # one instance that always runs: no cycle, noise or growth
    start_month: int = 0


@dataclass(frozen=True)
class Commitment:
    """A Reserved Instance (usage commitment) or a Compute Savings Plan (spend commitment)."""

    id: str
    name: str
    billing_account: str
    sub_account: str  # the account that bought it
    offer: str  # prices.COMMITMENT_TERMS key
    region: str  # where it was bought; the Savings Plan applies in every region
    start_month: int
    term_months: int
    instance_type: str = ""  # Reserved Instance only
    count: int = 0  # Reserved Instance only
    hourly_commitment: str = ""  # Savings Plan only, USD per hour

    @property
    def is_savings_plan(self) -> bool:
        return self.offer.startswith("sp_")


@dataclass(frozen=True)
class UsageLine:
    """A non-compute usage type of one resource (or of an account), one row per day."""

    sub_account: str
    region: str
    rate: str  # prices.service_rates() key
    monthly_quantity: float  # pricing units per month in the first month; "fixed": resources running
    pattern: str  # "storage", "traffic", "batch" or "fixed" (monthly_quantity x 24 hours a day)
    growth: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    resource: str = ""  # resource name; "" = account-level charge without a resource


@dataclass(frozen=True)
class Credit:
    billing_account: str
    sub_account: str
    month: int  # from the window start; negative = from the window end (-1 = the last month)
    day: int
    amount: str  # USD, positive; written negative
    service: str
    description: str


@dataclass(frozen=True)
class Service:
    name: str
    category: str
    subcategory: str


def tags(team: str | None, app: str, env: str) -> dict[str, str]:
    """The company's tagging policy: team, app and env. A missing team is untagged spend."""
    out = {"app": app, "env": env}
    if team is not None:
        out["team"] = team
    return out


# The Azure enrollment (an EA billing account number) bills no sales tax in its cost export.
AZURE_BILLING_ACCOUNT = "71842093"
BILLING_ACCOUNTS = (
    BillingAccount("731942058316", "Lumen Labs", tax_rate="0.07"),
    BillingAccount("859302716445", "Lumen Labs Data Platform", tax_rate="0.07"),
    BillingAccount(AZURE_BILLING_ACCOUNT, "Lumen Labs (Azure)", tax_rate="0", provider="Microsoft"),
)
SUB_ACCOUNTS = (
    SubAccount("204938571623", "lumen-prod", "731942058316"),
    SubAccount("385017264950", "lumen-staging", "731942058316"),
    SubAccount("492850163728", "lumen-shared-services", "731942058316"),
    SubAccount("617283940512", "lumen-data-prod", "859302716445"),
    SubAccount("748392016547", "lumen-ml", "859302716445"),
    SubAccount("926501837264", "lumen-data-sandbox", "859302716445"),
    SubAccount("6f2c9d3e-8a41-4b7e-9c15-2d0e7a3b5f18", "lumen-analytics", AZURE_BILLING_ACCOUNT),
)
PROD, STAGING, SHARED, DATA, ML, SANDBOX, ANALYTICS = (s.id for s in SUB_ACCOUNTS)
REGIONS = (
    Region("us-east-1", "US East (N. Virginia)", -5),
    Region("us-west-2", "US West (Oregon)", -8),
    Region("eu-west-1", "EU (Ireland)", 0),
    Region("global", "Global", -5),
    Region("eastus", "East US", -5),
)
TEAMS = ("platform", "checkout", "search", "data", "ml", "web")

_G = ComputeGroup
_checkout, _payments = tags("checkout", "checkout-api", "prod"), tags("checkout", "payments-worker", "prod")
_search, _indexer = tags("search", "search-api", "prod"), tags("search", "search-indexer", "prod")
_web, _web_stg = tags("web", "web-frontend", "prod"), tags("web", "web-frontend", "staging")
_eks, _eks_stg = tags("platform", "eks-core", "prod"), tags("platform", "eks-core", "staging")
_ci, _prometheus = tags("platform", "ci-runners", "shared"), tags("platform", "prometheus", "shared")
_etl, _warehouse, _kafka = (
    tags("data", "etl", "prod"),
    tags("data", "warehouse", "prod"),
    tags("data", "kafka", "prod"),
)
_training, _inference = tags("ml", "training", "prod"), tags("ml", "inference", "prod")
# fmt: off
COMPUTE_GROUPS = (
    # name, sub account, region, type, instances in the first month, profile, growth per month, tags
    _G("checkout-api", PROD, "us-east-1", "c5.xlarge", 40, "api", 0.040, _checkout),
    _G("payments-worker", PROD, "us-east-1", "m5.large", 16, "api", 0.035, _payments),
    _G("search-api", PROD, "us-east-1", "r5.2xlarge", 24, "web", 0.045, _search),
    _G("search-indexer", PROD, "us-west-2", "c5.2xlarge", 12, "batch", 0.050, _indexer),
    _G("web-frontend", PROD, "us-east-1", "t3.xlarge", 32, "web", 0.035, _web),
    _G("web-frontend-eu", PROD, "eu-west-1", "t3.medium", 20, "web", 0.040, _web),
    _G("checkout-api-eu", PROD, "eu-west-1", "c5.xlarge", 16, "api", 0.050, _checkout, start_month=3),
    _G("eks-core", PROD, "us-east-1", "m5.2xlarge", 60, "platform", 0.040, _eks),
    _G("eks-core-eu", PROD, "eu-west-1", "m5.2xlarge", 20, "platform", 0.040, _eks),
    _G("staging-eks", STAGING, "us-east-1", "m5.large", 24, "dev", 0.030, _eks_stg),
    _G("staging-web", STAGING, "us-west-2", "t3.medium", 8, "dev", 0.020, _web_stg),
    _G("ci-runners", SHARED, "us-east-1", "c5.2xlarge", 40, "ci", 0.040, _ci, spot=True),
    _G("bastion", SHARED, "us-east-1", "t3.small", 1, "steady", 0.0, {}, fixed=True),
    _G("monitoring", SHARED, "us-west-2", "m5.xlarge", 6, "steady", 0.030, _prometheus),
    _G("etl-workers", DATA, "us-west-2", "r5.2xlarge", 32, "batch", 0.050, _etl, spot=True),
    _G("warehouse-loaders", DATA, "us-west-2", "m5.4xlarge", 16, "batch", 0.045, _warehouse),
    _G("kafka", DATA, "us-west-2", "r5.xlarge", 12, "steady", 0.030, _kafka),
    _G("ml-training", ML, "us-west-2", "c5.4xlarge", 24, "training", 0.060, _training, spot=True),
    _G("ml-inference", ML, "us-east-1", "c5.2xlarge", 20, "api", 0.055, _inference),
    _G("notebooks", SANDBOX, "eu-west-1", "m5.large", 8, "dev", 0.030, {"env": "dev", "app": "jupyter"}),
    _G("adhoc-analysis", SANDBOX, "us-east-1", "r5.large", 1, "steady", 0.0, {}, fixed=True),
)
# fmt: on
# The Azure subscription's virtual machine scale sets (Linux, pay-as-you-go). Their usage draws on its own
# random stream, so adding or changing one never moves a number of the AWS bill.
_bi, _bi_dev, _features = (
    tags("data", "bi-dashboards", "prod"),
    tags("data", "bi-dashboards", "dev"),
    tags("ml", "feature-store", "prod"),
)
AZURE_VM_GROUPS = (
    _G("bi-dashboards", ANALYTICS, "eastus", "Standard_D2s_v3", 18, "web", 0.030, _bi),
    _G("feature-store", ANALYTICS, "eastus", "Standard_D2s_v3", 10, "steady", 0.040, _features),
    _G("analytics-dev", ANALYTICS, "eastus", "Standard_D2s_v3", 6, "dev", 0.020, _bi_dev),
)
# The launch: ml-inference runs at LAUNCH_FACTOR x for LAUNCH_DAYS days from day LAUNCH_DAY of the
# month two thirds into the window (a product launch the fleet was scaled for by hand).
LAUNCH_GROUP = "ml-inference"
LAUNCH_FACTOR = 4.0
LAUNCH_DAY = 10
LAUNCH_DAYS = 5
# The usage incident: every usage line of INCIDENT_SERVICE bills INCIDENT_FACTOR x its quantity on the day
# INCIDENT_DAYS_BEFORE_END days before the end of the data (a runaway job hammering the search-sessions table), so
# a fresh demo has one real usage anomaly within the default anomaly lookback (3 days).
INCIDENT_SERVICE = "Amazon DynamoDB"
INCIDENT_FACTOR = 2.0
INCIDENT_DAYS_BEFORE_END = 2

COMMITMENTS = (
    Commitment(
        "arn:aws:ec2:us-east-1:204938571623:reserved-instances/4f1c2a9e-8d7b-4c55-a0e1-3b6d9f20c871",
        "checkout c5.xlarge x28 (3y)",
        "731942058316",
        PROD,
        "ri_3yr_standard_no_upfront",
        "us-east-1",
        start_month=-14,
        term_months=36,
        instance_type="c5.xlarge",
        count=28,
    ),
    Commitment(
        "arn:aws:ec2:us-east-1:204938571623:reserved-instances/9a2e6b13-5c4f-4e8a-b7d2-61f0c3a9e548",
        "eks-core m5.2xlarge x48 (3y)",
        "731942058316",
        PROD,
        "ri_3yr_standard_no_upfront",
        "us-east-1",
        start_month=-8,
        term_months=36,
        instance_type="m5.2xlarge",
        count=48,
    ),
    Commitment(
        "arn:aws:ec2:us-east-1:204938571623:reserved-instances/c7d05e42-1b9a-4f36-8e2c-d4a7b6f19e03",
        "search r5.2xlarge x16 (1y)",
        "731942058316",
        PROD,
        "ri_1yr_standard_no_upfront",
        "us-east-1",
        start_month=4,
        term_months=12,
        instance_type="r5.2xlarge",
        count=16,
    ),
    Commitment(
        "arn:aws:ec2:us-west-2:617283940512:reserved-instances/2b8f4d61-7e3c-4a19-9d05-e6c1a8b37f24",
        "kafka r5.xlarge x10 (3y)",
        "859302716445",
        DATA,
        "ri_3yr_standard_no_upfront",
        "us-west-2",
        start_month=-3,
        term_months=36,
        instance_type="r5.xlarge",
        count=10,
    ),
    Commitment(
        "arn:aws:savingsplans::204938571623:savingsplan/6e0d3f7a-2c84-4b1e-9a56-f8b2c4d1e907",
        "Compute SP $25/h (1y)",
        "731942058316",
        PROD,
        "sp_1yr_compute_no_upfront",
        "us-east-1",
        start_month=2,
        term_months=12,
        hourly_commitment="25.00",
    ),
    Commitment(
        "arn:aws:savingsplans::617283940512:savingsplan/d3a91c5e-6f20-4d7b-8e43-1b9c7a5f2e68",
        "Compute SP $14/h (1y)",
        "859302716445",
        DATA,
        "sp_1yr_compute_no_upfront",
        "us-west-2",
        start_month=6,
        term_months=12,
        hourly_commitment="14.00",
    ),
)

EC2 = "Amazon Elastic Compute Cloud"
SAVINGS_PLANS = "Savings Plans for AWS Compute usage"
AZURE_VM = "Virtual Machines"
SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(EC2, "Compute", "Virtual Machines"),
        Service("AWS Data Transfer", "Networking", "Network Connectivity"),
        Service("Amazon Simple Storage Service", "Storage", "Object Storage"),
        Service("AWS Lambda", "Compute", "Serverless Compute"),
        Service("Amazon CloudFront", "Networking", "Content Delivery"),
        Service("Amazon DynamoDB", "Databases", "NoSQL Databases"),
        Service("Amazon Relational Database Service", "Databases", "Relational Databases"),
        Service("AmazonCloudWatch", "Management and Governance", "Observability"),
        Service("Amazon Elastic Container Service for Kubernetes", "Compute", "Containers"),
        Service("Amazon ElastiCache", "Databases", "Caching"),
        Service("Elastic Load Balancing", "Networking", "Network Infrastructure"),
        Service("Amazon Virtual Private Cloud", "Networking", "Network Infrastructure"),
        Service("Amazon Simple Queue Service", "Integration", "Messaging"),
        Service("Amazon Simple Notification Service", "Integration", "Messaging"),
        Service("AWS Key Management Service", "Security", "Secret Management"),
        Service("Amazon EC2 Container Registry (ECR)", "Storage", "Other (Storage)"),
        Service("Amazon Route 53", "Networking", "Network Infrastructure"),
        Service("AWS Step Functions", "Integration", "Workflow Orchestration"),
        Service(SAVINGS_PLANS, "Compute", "Other (Compute)"),
        Service("AWS CloudTrail", "Management and Governance", "Compliance"),
        Service(AZURE_VM, "Compute", "Virtual Machines"),
    )
}


@dataclass(frozen=True)
class RateUse:
    """How a non-compute rate shows up: its service, the resource it is billed on, quantity decimals."""

    service: str
    resource_type: str = ""  # "" = no resource (account-level, or an aggregate of many volumes)
    arn: str = ""  # template over {region} {account} {name} {hex}
    decimals: int = 0  # quantity decimals + unit price decimals <= 10: every cost is exact at 10 places


_S3 = RateUse("Amazon Simple Storage Service", "bucket", "arn:aws:s3:::{name}", 4)
_S3_REQUESTS = RateUse("Amazon Simple Storage Service", "bucket", "arn:aws:s3:::{name}", 0)
_RDS = "Amazon Relational Database Service"
_AURORA = "arn:aws:rds:{region}:{account}:cluster:{name}"
_ALB = "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/{hex}"
_NAT = "arn:aws:ec2:{region}:{account}:natgateway/nat-{hex}"
_LAMBDA = "arn:aws:lambda:{region}:{account}:function:{name}"
_CLOUDFRONT = "arn:aws:cloudfront::{account}:distribution/E{hex}"
_DYNAMODB = "arn:aws:dynamodb:{region}:{account}:table/{name}"
_ECR = "arn:aws:ecr:{region}:{account}:repository/{name}"
_CACHE = "arn:aws:elasticache:{region}:{account}:replicationgroup:{name}"
RATE_USES: dict[str, RateUse] = {
    "ebs_gp3": RateUse(EC2, decimals=4),
    "ebs_snapshot": RateUse(EC2, decimals=4),
    "nat_gateway_hours": RateUse(EC2, "NAT Gateway", _NAT),
    "nat_gateway_bytes": RateUse(EC2, "NAT Gateway", _NAT, 3),
    "dt_out_internet": RateUse("AWS Data Transfer", decimals=3),
    "dt_inter_region": RateUse("AWS Data Transfer", decimals=3),
    "dt_inter_az": RateUse("AWS Data Transfer", decimals=3),
    "s3_standard": _S3,
    "s3_glacier": _S3,
    "s3_put": _S3_REQUESTS,
    "s3_get": _S3_REQUESTS,
    "lambda_requests": RateUse("AWS Lambda", "function", _LAMBDA),
    "lambda_compute": RateUse("AWS Lambda", "function", _LAMBDA),
    "cloudfront_dt_out": RateUse("Amazon CloudFront", "distribution", _CLOUDFRONT, 3),
    "cloudfront_https": RateUse("Amazon CloudFront", "distribution", _CLOUDFRONT),
    "dynamodb_read": RateUse("Amazon DynamoDB", "table", _DYNAMODB),
    "dynamodb_write": RateUse("Amazon DynamoDB", "table", _DYNAMODB),
    "dynamodb_storage": RateUse("Amazon DynamoDB", "table", _DYNAMODB, 4),
    "rds_postgres_r5_xlarge_multi_az": RateUse(_RDS, "db", "arn:aws:rds:{region}:{account}:db:{name}"),
    "rds_postgres_r5_large": RateUse(_RDS, "db", "arn:aws:rds:{region}:{account}:db:{name}"),
    "rds_gp2_storage_multi_az": RateUse(_RDS, "db", "arn:aws:rds:{region}:{account}:db:{name}", 4),
    "rds_gp2_storage": RateUse(_RDS, "db", "arn:aws:rds:{region}:{account}:db:{name}", 4),
    "aurora_postgres_r5_2xlarge": RateUse(_RDS, "cluster", _AURORA),
    "aurora_storage": RateUse(_RDS, "cluster", _AURORA, 4),
    "aurora_io": RateUse(_RDS, "cluster", _AURORA),
    "cw_logs_ingest": RateUse("AmazonCloudWatch", decimals=3),
    "cw_logs_storage": RateUse("AmazonCloudWatch", decimals=4),
    "cw_metrics": RateUse("AmazonCloudWatch", decimals=4),
    "cw_alarms": RateUse("AmazonCloudWatch", decimals=4),
    "eks_cluster": RateUse(
        "Amazon Elastic Container Service for Kubernetes",
        "cluster",
        "arn:aws:eks:{region}:{account}:cluster/{name}",
    ),
    "elasticache_r5_large": RateUse("Amazon ElastiCache", "replication group", _CACHE),
    "elasticache_m5_large": RateUse("Amazon ElastiCache", "replication group", _CACHE),
    "alb_hours": RateUse("Elastic Load Balancing", "loadbalancer", _ALB),
    "alb_lcu": RateUse("Elastic Load Balancing", "loadbalancer", _ALB, 3),
    "public_ipv4_in_use": RateUse("Amazon Virtual Private Cloud"),
    "public_ipv4_idle": RateUse("Amazon Virtual Private Cloud"),
    "sqs_requests": RateUse("Amazon Simple Queue Service", "queue", "arn:aws:sqs:{region}:{account}:{name}"),
    "sns_requests": RateUse("Amazon Simple Notification Service", "topic", "arn:aws:sns:{region}:{account}:{name}"),
    "kms_keys": RateUse("AWS Key Management Service", decimals=4),
    "ecr_storage": RateUse("Amazon EC2 Container Registry (ECR)", "repository", _ECR, 4),
    "route53_queries": RateUse("Amazon Route 53", "hostedzone", "arn:aws:route53:::hostedzone/Z{hex}"),
    "sfn_transitions": RateUse(
        "AWS Step Functions", "stateMachine", "arn:aws:states:{region}:{account}:stateMachine:{name}"
    ),
    "cloudtrail_data_events": RateUse("AWS CloudTrail", "trail", "arn:aws:cloudtrail:{region}:{account}:trail/{name}"),
}


def _lines() -> tuple[UsageLine, ...]:
    L = UsageLine  # a table reads better with a short constructor
    web, checkout, search, platform, stg, shared = _web, _checkout, _search, _eks, _eks_stg, _ci
    data, etl, ml, inference = tags("data", "datalake", "prod"), _etl, _training, _inference
    # fmt: off
    return (
        # sub account, region, rate, quantity per month (or resources for "fixed"), pattern, growth, tags,
        # resource name
        # lumen-prod, us-east-1
        L(PROD, "us-east-1", "ebs_gp3", 40_000, "storage", 0.030, platform),
        L(PROD, "us-east-1", "ebs_gp3", 8_000, "storage", 0.035, checkout),
        L(PROD, "us-east-1", "ebs_gp3", 20_000, "storage", 0.040, search),
        L(PROD, "us-east-1", "ebs_snapshot", 40_000, "storage", 0.030, platform),
        L(PROD, "us-east-1", "s3_standard", 180_000, "storage", 0.030, web, "lumen-prod-assets"),
        L(PROD, "us-east-1", "s3_put", 120e6, "traffic", 0.035, web, "lumen-prod-assets"),
        L(PROD, "us-east-1", "s3_get", 900e6, "traffic", 0.035, web, "lumen-prod-assets"),
        L(PROD, "us-east-1", "s3_standard", 150_000, "storage", 0.025, platform, "lumen-prod-backups"),
        L(PROD, "us-east-1", "cloudfront_dt_out", 6_500, "traffic", 0.030, web, "lumen-web-cdn"),
        L(PROD, "us-east-1", "cloudfront_https", 1.2e9, "traffic", 0.030, web, "lumen-web-cdn"),
        L(PROD, "us-east-1", "dt_out_internet", 25_000, "traffic", 0.040),
        L(PROD, "us-east-1", "dt_inter_az", 150_000, "traffic", 0.040),
        L(PROD, "us-east-1", "dt_inter_region", 20_000, "traffic", 0.040, platform),
        L(PROD, "us-east-1", "nat_gateway_hours", 1, "fixed", 0.0, platform, "prod-nat-a"),
        L(PROD, "us-east-1", "nat_gateway_hours", 1, "fixed", 0.0, platform, "prod-nat-b"),
        L(PROD, "us-east-1", "nat_gateway_bytes", 35_000, "traffic", 0.040, platform, "prod-nat-a"),
        L(PROD, "us-east-1", "nat_gateway_bytes", 25_000, "traffic", 0.040, platform, "prod-nat-b"),
        L(PROD, "us-east-1", "alb_hours", 1, "fixed", 0.0, web, "prod-web"),
        L(PROD, "us-east-1", "alb_lcu", 25_000, "traffic", 0.040, web, "prod-web"),
        L(PROD, "us-east-1", "alb_hours", 1, "fixed", 0.0, checkout, "prod-checkout"),
        L(PROD, "us-east-1", "alb_lcu", 15_000, "traffic", 0.045, checkout, "prod-checkout"),
        L(PROD, "us-east-1", "public_ipv4_in_use", 40, "fixed", 0.0),
        L(PROD, "us-east-1", "rds_postgres_r5_xlarge_multi_az", 1, "fixed", 0.0, checkout, "checkout-db"),
        L(PROD, "us-east-1", "rds_gp2_storage_multi_az", 2_000, "storage", 0.030, checkout, "checkout-db"),
        L(PROD, "us-east-1", "elasticache_r5_large", 3, "fixed", 0.0, checkout, "checkout-sessions"),
        L(PROD, "us-east-1", "lambda_requests", 300e6, "traffic", 0.050, checkout, "checkout-webhooks"),
        L(PROD, "us-east-1", "lambda_compute", 80e6, "traffic", 0.050, checkout, "checkout-webhooks"),
        L(PROD, "us-east-1", "sqs_requests", 500e6, "traffic", 0.040, checkout, "payments-queue"),
        L(PROD, "us-east-1", "sns_requests", 100e6, "traffic", 0.040, checkout, "order-events"),
        L(PROD, "us-east-1", "cw_logs_ingest", 6_000, "traffic", 0.045, platform),
        L(PROD, "us-east-1", "cw_metrics", 5_000, "storage", 0.030, platform),
        L(PROD, "us-east-1", "cw_alarms", 400, "storage", 0.020, platform),
        L(PROD, "us-east-1", "eks_cluster", 1, "fixed", 0.0, platform, "prod-us"),
        L(PROD, "us-east-1", "kms_keys", 30, "storage", 0.010, platform),
        # lumen-prod, us-west-2 and eu-west-1
        L(PROD, "us-west-2", "dynamodb_read", 8e9, "traffic", 0.045, search, "search-sessions"),
        L(PROD, "us-west-2", "dynamodb_write", 1.2e9, "traffic", 0.045, search, "search-sessions"),
        L(PROD, "us-west-2", "dynamodb_storage", 500, "storage", 0.040, search, "search-sessions"),
        L(PROD, "us-west-2", "ebs_gp3", 6_000, "storage", 0.050, search),
        L(PROD, "us-west-2", "s3_standard", 40_000, "storage", 0.050, search, "lumen-search-snapshots"),
        L(PROD, "eu-west-1", "ebs_gp3", 12_000, "storage", 0.040, platform),
        L(PROD, "eu-west-1", "dt_out_internet", 8_000, "traffic", 0.045),
        L(PROD, "eu-west-1", "dt_inter_az", 30_000, "traffic", 0.045),
        L(PROD, "eu-west-1", "alb_hours", 1, "fixed", 0.0, web, "prod-eu-alb"),
        L(PROD, "eu-west-1", "eks_cluster", 1, "fixed", 0.0, platform, "prod-eu"),
        L(PROD, "eu-west-1", "ecr_storage", 500, "storage", 0.030, platform, "eu-mirror"),
        L(PROD, "global", "route53_queries", 800e6, "traffic", 0.035, web, "lumen.example"),
        # lumen-staging
        L(STAGING, "us-east-1", "ebs_gp3", 8_000, "storage", 0.020, stg),
        L(STAGING, "us-east-1", "rds_postgres_r5_large", 1, "fixed", 0.0, stg, "staging-db"),
        L(STAGING, "us-east-1", "rds_gp2_storage", 500, "storage", 0.020, stg, "staging-db"),
        L(STAGING, "us-east-1", "eks_cluster", 1, "fixed", 0.0, stg, "staging"),
        L(STAGING, "us-east-1", "cw_logs_ingest", 800, "traffic", 0.030, stg),
        L(STAGING, "us-east-1", "nat_gateway_hours", 1, "fixed", 0.0, stg, "staging-nat"),
        L(STAGING, "us-east-1", "s3_standard", 20_000, "storage", 0.020, stg, "lumen-staging-assets"),
        L(STAGING, "us-east-1", "dt_inter_az", 10_000, "traffic", 0.030),
        L(STAGING, "us-east-1", "alb_hours", 1, "fixed", 0.0, stg, "staging-alb"),
        L(STAGING, "us-west-2", "ebs_gp3", 1_000, "storage", 0.020, stg),
        # lumen-shared-services
        L(SHARED, "us-east-1", "s3_standard", 60_000, "storage", 0.040, shared, "lumen-ci-artifacts"),
        L(SHARED, "us-east-1", "s3_put", 200e6, "batch", 0.040, shared, "lumen-ci-artifacts"),
        L(SHARED, "us-east-1", "ebs_gp3", 10_000, "storage", 0.030, shared),
        L(SHARED, "us-east-1", "ebs_snapshot", 15_000, "storage", 0.030, shared),
        L(SHARED, "us-west-2", "ecr_storage", 3_000, "storage", 0.040, shared, "lumen-images"),
        L(
            SHARED,
            "us-west-2",
            "cloudtrail_data_events",
            500e6,
            "traffic",
            0.030,
            tags("platform", "audit", "shared"),
            "org-trail",
        ),
        L(SHARED, "us-west-2", "kms_keys", 20, "storage", 0.010, tags("platform", "audit", "shared")),
        L(
            SHARED,
            "us-west-2",
            "cw_logs_ingest",
            1_000,
            "traffic",
            0.030,
            tags("platform", "prometheus", "shared"),
        ),
        L(
            SHARED,
            "us-west-2",
            "cw_logs_storage",
            40_000,
            "storage",
            0.040,
            tags("platform", "prometheus", "shared"),
        ),
        # lumen-data-prod
        L(DATA, "us-west-2", "s3_standard", 400_000, "storage", 0.050, data, "lumen-datalake"),
        L(DATA, "us-west-2", "s3_glacier", 1_500_000, "storage", 0.040, data, "lumen-datalake-archive"),
        L(DATA, "us-west-2", "s3_put", 600e6, "batch", 0.050, data, "lumen-datalake"),
        L(DATA, "us-west-2", "s3_get", 5e9, "batch", 0.050, data, "lumen-datalake"),
        L(
            DATA,
            "us-west-2",
            "aurora_postgres_r5_2xlarge",
            2,
            "fixed",
            0.0,
            tags("data", "warehouse", "prod"),
            "warehouse-meta",
        ),
        L(
            DATA,
            "us-west-2",
            "aurora_storage",
            3_000,
            "storage",
            0.040,
            tags("data", "warehouse", "prod"),
            "warehouse-meta",
        ),
        L(
            DATA,
            "us-west-2",
            "aurora_io",
            5e9,
            "batch",
            0.045,
            tags("data", "warehouse", "prod"),
            "warehouse-meta",
        ),
        L(DATA, "us-west-2", "ebs_gp3", 30_000, "storage", 0.045, etl),
        L(DATA, "us-west-2", "dt_inter_az", 200_000, "batch", 0.050),
        L(DATA, "us-west-2", "dt_inter_region", 40_000, "batch", 0.050, etl),
        L(DATA, "us-west-2", "nat_gateway_hours", 1, "fixed", 0.0, etl, "data-nat"),
        L(DATA, "us-west-2", "nat_gateway_bytes", 80_000, "batch", 0.050, etl, "data-nat"),
        L(DATA, "us-west-2", "sfn_transitions", 50e6, "batch", 0.050, etl, "etl-orchestrator"),
        L(DATA, "us-west-2", "cw_logs_ingest", 2_000, "batch", 0.050, etl),
        L(DATA, "us-west-2", "eks_cluster", 1, "fixed", 0.0, etl, "data"),
        L(DATA, "us-west-2", "sqs_requests", 1e9, "batch", 0.050, etl, "ingest-queue"),
        L(DATA, "us-west-2", "public_ipv4_idle", 10, "fixed", 0.0),
        L(DATA, "us-west-2", "lambda_compute", 40e6, "batch", 0.050, etl, "partition-trigger"),
        # lumen-ml
        L(ML, "us-west-2", "s3_standard", 150_000, "storage", 0.060, ml, "lumen-ml-datasets"),
        L(ML, "us-west-2", "s3_get", 3e9, "batch", 0.060, ml, "lumen-ml-datasets"),
        L(ML, "us-west-2", "ebs_gp3", 20_000, "storage", 0.060, ml),
        L(ML, "us-west-2", "ecr_storage", 2_000, "storage", 0.060, ml, "ml-images"),
        L(ML, "us-east-1", "elasticache_m5_large", 2, "fixed", 0.0, inference, "feature-cache"),
        L(ML, "us-east-1", "dt_out_internet", 5_000, "traffic", 0.060, inference),
        L(ML, "us-east-1", "cw_logs_ingest", 1_500, "traffic", 0.060, inference),
        L(ML, "us-east-1", "alb_hours", 1, "fixed", 0.0, inference, "inference-alb"),
        L(ML, "us-east-1", "alb_lcu", 10_000, "traffic", 0.060, inference, "inference-alb"),
        # lumen-data-sandbox: mostly untagged, some of it forgotten
        L(SANDBOX, "eu-west-1", "ebs_gp3", 4_000, "storage", 0.010, {"env": "dev"}),
        L(SANDBOX, "eu-west-1", "ebs_snapshot", 10_000, "storage", 0.020, {}),
        L(SANDBOX, "us-west-2", "s3_standard", 50_000, "storage", 0.030, {}, "sandbox-scratch"),
    )
    # fmt: on


USAGE_LINES = _lines()

MAP_CREDIT = "AWS Migration Acceleration Program credit"

CREDITS = (
    # A migration-program credit spread over the first three months of its programme.
    *(
        Credit("859302716445", DATA, month, 3, "5000", "Amazon Simple Storage Service", MAP_CREDIT)
        for month in (1, 2, 3)
    ),
    Credit("731942058316", PROD, 5, 18, "1250", EC2, "Amazon EC2 Service Level Agreement credit"),
    Credit("731942058316", PROD, 9, 2, "500", "AWS Lambda", "AWS Promotional Credit"),
)
