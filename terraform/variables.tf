# Every input is typed, described and validated; the defaults stand up a working
# service in a fresh account with `terraform apply` and nothing else.

variable "region" {
  type        = string
  description = "AWS Region to deploy into, e.g. us-east-1."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be an AWS Region code such as us-east-1 or eu-west-2."
  }
}

variable "name" {
  type        = string
  description = "Prefix of every resource name (functions, roles, table, APIs, log groups). IAM names are global: use one name per account and Region."
  default     = "lambda-rust-websocket"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 characters of a-z, 0-9 and '-', start with a letter and not end with '-'."
  }
}

variable "stage_name" {
  type        = string
  description = "Stage of both APIs; the URLs end in /<stage_name>. The handlers strip it from the path themselves."
  default     = "staging"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.stage_name))
    error_message = "stage_name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-' ('$default' is not allowed: both URLs carry the stage)."
  }
}

variable "websocket_domain" {
  type        = string
  description = "Custom domain of the WebSocket API (ws.example.com): clients connect to wss://<it>?channel=NAME. A Regional endpoint, TLS 1.2, with websocket_certificate_arn or a certificate requested and DNS-validated in route53_zone_id. null (the default): only the execute-api URL. Must differ from http_domain."
  default     = null

  validation {
    condition     = var.websocket_domain == null ? true : (can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.websocket_domain)) && length(var.websocket_domain) <= 253)
    error_message = "websocket_domain must be a DNS name in lower case (ws.example.com), without scheme, path or wildcard, or null."
  }

  validation {
    condition     = var.websocket_domain == null || var.websocket_certificate_arn != null || var.route53_zone_id != null
    error_message = "websocket_domain needs a certificate: websocket_certificate_arn (an ACM certificate in this Region), or route53_zone_id (the hosted zone of the name, where Terraform validates a new one)."
  }
}

variable "http_domain" {
  type        = string
  description = "Custom domain of the HTTP API (api.example.com): publish, count, history, presence and tokens at https://<it>/. A Regional endpoint, TLS 1.2, with http_certificate_arn or a certificate requested and DNS-validated in route53_zone_id. null (the default): only the execute-api URL. Must differ from websocket_domain."
  default     = null

  validation {
    condition     = var.http_domain == null ? true : (can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.http_domain)) && length(var.http_domain) <= 253)
    error_message = "http_domain must be a DNS name in lower case (api.example.com), without scheme, path or wildcard, or null."
  }

  validation {
    condition     = var.http_domain == null || var.http_domain != var.websocket_domain
    error_message = "http_domain and websocket_domain must differ: one API Gateway custom domain cannot serve both a WebSocket and an HTTP API."
  }

  validation {
    condition     = var.http_domain == null || var.http_certificate_arn != null || var.route53_zone_id != null
    error_message = "http_domain needs a certificate: http_certificate_arn (an ACM certificate in this Region), or route53_zone_id (the hosted zone of the name, where Terraform validates a new one)."
  }
}

variable "websocket_certificate_arn" {
  type        = string
  description = "ACM certificate for websocket_domain, in this Region (custom domains of Regional endpoints use the API's Region). null: Terraform requests one and validates it by DNS in route53_zone_id."
  default     = null

  validation {
    condition     = var.websocket_certificate_arn == null ? true : can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.websocket_certificate_arn))
    error_message = "websocket_certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID), or null."
  }

  validation {
    condition     = var.websocket_certificate_arn == null ? true : split(":", var.websocket_certificate_arn)[3] == var.region && var.websocket_domain != null
    error_message = "websocket_certificate_arn must be in the deployment's region (a Regional custom domain cannot use a certificate of another Region), and goes with websocket_domain."
  }
}

variable "http_certificate_arn" {
  type        = string
  description = "ACM certificate for http_domain, in this Region. null: Terraform requests one and validates it by DNS in route53_zone_id."
  default     = null

  validation {
    condition     = var.http_certificate_arn == null ? true : can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.http_certificate_arn))
    error_message = "http_certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID), or null."
  }

  validation {
    condition     = var.http_certificate_arn == null ? true : split(":", var.http_certificate_arn)[3] == var.region && var.http_domain != null
    error_message = "http_certificate_arn must be in the deployment's region (a Regional custom domain cannot use a certificate of another Region), and goes with http_domain."
  }
}

variable "route53_zone_id" {
  type        = string
  description = "Route 53 hosted zone of the custom domains: Terraform validates the certificates it requests there and points each domain at its API with an alias record. null: no DNS record is made; create them from the custom_domain_targets output (and give the certificate ARNs)."
  default     = null

  validation {
    condition     = var.route53_zone_id == null ? true : can(regex("^Z[A-Z0-9]{1,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a Route 53 hosted zone id (Z followed by letters and digits), or null."
  }
}

variable "package_dir" {
  type        = string
  description = "Directory holding rx.zip, http.zip and ARCH as written by `make`. null means the repository's build/ directory."
  default     = null

  validation {
    condition     = var.package_dir == null || try(length(trimspace(var.package_dir)) > 0, false)
    error_message = "package_dir must be null or a non-empty path."
  }
}

variable "architecture" {
  type        = string
  description = "Lambda instruction set: arm64 or x86_64, the Makefile's ARCH. null reads <package_dir>/ARCH, which `make` writes, so the functions match the binaries."
  default     = null

  validation {
    condition     = var.architecture == null || contains(["arm64", "x86_64"], coalesce(var.architecture, "arm64"))
    error_message = "architecture must be arm64 or x86_64 (the values `make ARCH=...` accepts)."
  }
}

variable "rx_memory_size" {
  type        = number
  description = "Memory (MB) of the rx function (WebSocket $connect/$disconnect/$default): one DynamoDB call or an echo per event."
  default     = 128

  validation {
    condition     = var.rx_memory_size >= 128 && var.rx_memory_size <= 10240 && floor(var.rx_memory_size) == var.rx_memory_size
    error_message = "rx_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "http_memory_size" {
  type        = number
  description = "Memory (MB) of the http function. CPU grows with memory; fan-out signs and sends one request per recipient, so it gets more than rx."
  default     = 256

  validation {
    condition     = var.http_memory_size >= 128 && var.http_memory_size <= 10240 && floor(var.http_memory_size) == var.http_memory_size
    error_message = "http_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "rx_timeout" {
  type        = number
  description = "Timeout (seconds) of the rx function. API Gateway waits at most 29 s for a WebSocket integration."
  default     = 10

  validation {
    condition     = var.rx_timeout >= 1 && var.rx_timeout <= 29 && floor(var.rx_timeout) == var.rx_timeout
    error_message = "rx_timeout must be a whole number of seconds between 1 and 29."
  }
}

variable "http_timeout" {
  type        = number
  description = "Timeout (seconds) of the http function. The HTTP API integration times out at 30 s, so a longer Lambda timeout would only burn money."
  default     = 29

  validation {
    condition     = var.http_timeout >= 1 && var.http_timeout <= 30 && floor(var.http_timeout) == var.http_timeout
    error_message = "http_timeout must be a whole number of seconds between 1 and 30."
  }
}

variable "rx_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of rx; -1 leaves it unreserved (new accounts may have a concurrency quota of only 10, which cannot be reserved from)."
  default     = -1

  validation {
    condition     = var.rx_reserved_concurrency >= -1 && floor(var.rx_reserved_concurrency) == var.rx_reserved_concurrency
    error_message = "rx_reserved_concurrency must be -1 (unreserved) or a whole number >= 0 (0 disables the function)."
  }
}

variable "http_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of http; -1 leaves it unreserved. A small cap bounds how many broadcasts run at once."
  default     = -1

  validation {
    condition     = var.http_reserved_concurrency >= -1 && floor(var.http_reserved_concurrency) == var.http_reserved_concurrency
    error_message = "http_reserved_concurrency must be -1 (unreserved) or a whole number >= 0 (0 disables the function)."
  }
}

variable "worker_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of the worker; -1 leaves it unreserved. When set, it must be at least worker_max_concurrency: the queue's event source mapping starts up to that many workers, and each one throttled for want of concurrency puts its batch back and counts as a receive toward the dead-letter queue. Reserving guarantees the workers their concurrency (and takes it from the account's pool)."
  default     = -1

  validation {
    condition     = var.worker_reserved_concurrency == -1 || (var.worker_reserved_concurrency >= 2 && floor(var.worker_reserved_concurrency) == var.worker_reserved_concurrency)
    error_message = "worker_reserved_concurrency must be -1 (unreserved) or a whole number >= 2 (and >= worker_max_concurrency)."
  }
}

variable "channel_shards" {
  type        = number
  description = "CHANNEL_SHARDS: index partitions each channel is spread over (1-256). Fixed for the life of a deployment: changing it strands stored connections on their old shards until they reconnect."
  default     = 8

  validation {
    condition     = var.channel_shards >= 1 && var.channel_shards <= 256 && floor(var.channel_shards) == var.channel_shards
    error_message = "channel_shards must be a whole number between 1 and 256."
  }
}

variable "publish_concurrency" {
  type        = number
  description = "PUBLISH_CONCURRENCY of http and the worker: @connections requests one publish keeps in flight (a worker starts there and adapts between 1 and 1024 when throttled). API Gateway allows 10,000 requests/s per account and Region in total."
  default     = 128

  validation {
    condition     = var.publish_concurrency >= 1 && var.publish_concurrency <= 1024 && floor(var.publish_concurrency) == var.publish_concurrency
    error_message = "publish_concurrency must be a whole number between 1 and 1024."
  }
}

variable "publish_max_attempts" {
  type        = number
  description = "PUBLISH_MAX_ATTEMPTS of http and the worker: attempts per recipient, with backoff, when API Gateway throttles (429) or fails (5xx)."
  default     = 4

  validation {
    condition     = var.publish_max_attempts >= 1 && var.publish_max_attempts <= 10 && floor(var.publish_max_attempts) == var.publish_max_attempts
    error_message = "publish_max_attempts must be a whole number between 1 and 10."
  }
}

variable "publish_sync_max" {
  type        = number
  description = "PUBLISH_SYNC_MAX of the http function: members up to which a publish is delivered within the request (200 with the exact report); a bigger channel is answered 202 and handed to the workers through the publish queue, one message per shard. At the default 256 MB a post costs the http function about a millisecond, so 2,000 members take ~2 s of its 29."
  default     = 2000

  validation {
    condition     = var.publish_sync_max >= 1 && var.publish_sync_max <= 1000000 && floor(var.publish_sync_max) == var.publish_sync_max
    error_message = "publish_sync_max must be a whole number between 1 and 1000000."
  }
}

variable "publish_target_rate" {
  type        = number
  description = "PUBLISH_TARGET_RATE of the worker: @connections posts per second all workers together aim for; each takes publish_target_rate / worker_max_concurrency and slows down further when API Gateway throttles (429). The default is API Gateway's default quota of 10,000 requests/s per account and Region, which every API of the account shares: lower it to leave part of it to other traffic (connects, the synchronous publishes of the http function, other APIs)."
  default     = 10000

  validation {
    condition     = var.publish_target_rate >= 1 && var.publish_target_rate <= 1000000 && floor(var.publish_target_rate) == var.publish_target_rate
    error_message = "publish_target_rate must be a whole number between 1 and 1000000."
  }
}

variable "worker_max_concurrency" {
  type        = number
  description = "Most workers running at once: the maximum concurrency of the publish queue's event source mapping, and WORKER_MAX_CONCURRENCY of the worker, which divides publish_target_rate by it. Lambda requires 2-1000."
  default     = 8

  validation {
    condition     = var.worker_max_concurrency >= 2 && var.worker_max_concurrency <= 1000 && floor(var.worker_max_concurrency) == var.worker_max_concurrency
    error_message = "worker_max_concurrency must be a whole number between 2 and 1000 (the event source mapping's limits)."
  }
}

variable "worker_batch_size" {
  type        = number
  description = "Shard jobs (SQS messages) one worker invocation receives at once and delivers side by side, under one shared brake. A failed job is retried alone (ReportBatchItemFailures), but a crash or timeout returns the whole batch."
  default     = 4

  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10 && floor(var.worker_batch_size) == var.worker_batch_size
    error_message = "worker_batch_size must be a whole number between 1 and 10."
  }
}

variable "worker_memory_size" {
  type        = number
  description = "Memory (MB) of the worker function. Lambda allots CPU in proportion (1,769 MB = 1 vCPU), and a worker's throughput (signing and sending one request per recipient) is CPU-bound."
  default     = 1024

  validation {
    condition     = var.worker_memory_size >= 128 && var.worker_memory_size <= 10240 && floor(var.worker_memory_size) == var.worker_memory_size
    error_message = "worker_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "worker_timeout" {
  type        = number
  description = "Timeout (seconds) of the worker function. A worker hands the rest of its shard on as a new message before this deadline, so it bounds one invocation, not a publish. The publish queue's visibility timeout is six times this."
  default     = 300

  validation {
    condition     = var.worker_timeout >= 30 && var.worker_timeout <= 900 && floor(var.worker_timeout) == var.worker_timeout
    error_message = "worker_timeout must be a whole number of seconds between 30 and 900."
  }
}

variable "commands_memory_size" {
  type        = number
  description = "Memory (MB) of the commands function (the WebSocket command routes: subscribe with recovery, unsubscribe, publish, presence). A socket publish fans out like an HTTP one, so it gets what http gets."
  default     = 256

  validation {
    condition     = var.commands_memory_size >= 128 && var.commands_memory_size <= 10240 && floor(var.commands_memory_size) == var.commands_memory_size
    error_message = "commands_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "commands_timeout" {
  type        = number
  description = "Timeout (seconds) of the commands function. API Gateway waits at most 29 s for a WebSocket integration, after which the sender gets no reply."
  default     = 29

  validation {
    condition     = var.commands_timeout >= 1 && var.commands_timeout <= 29 && floor(var.commands_timeout) == var.commands_timeout
    error_message = "commands_timeout must be a whole number of seconds between 1 and 29."
  }
}

variable "commands_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of the commands function; -1 leaves it unreserved (new accounts may have a concurrency quota of only 10, which cannot be reserved from)."
  default     = -1

  validation {
    condition     = var.commands_reserved_concurrency >= -1 && floor(var.commands_reserved_concurrency) == var.commands_reserved_concurrency
    error_message = "commands_reserved_concurrency must be -1 (unreserved) or a whole number >= 0 (0 disables the function)."
  }
}

variable "presence_memory_size" {
  type        = number
  description = "Memory (MB) of the presence function, which posts each join or leave event to the members of its channel."
  default     = 256

  validation {
    condition     = var.presence_memory_size >= 128 && var.presence_memory_size <= 10240 && floor(var.presence_memory_size) == var.presence_memory_size
    error_message = "presence_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "presence_timeout" {
  type        = number
  description = "Timeout (seconds) of the presence function: one batch of stream records, each event posted to channels of at most publish_sync_max members."
  default     = 60

  validation {
    condition     = var.presence_timeout >= 1 && var.presence_timeout <= 900 && floor(var.presence_timeout) == var.presence_timeout
    error_message = "presence_timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "presence_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of the presence function; -1 leaves it unreserved. The stream runs at most one invocation per shard at a time anyway."
  default     = -1

  validation {
    condition     = var.presence_reserved_concurrency >= -1 && floor(var.presence_reserved_concurrency) == var.presence_reserved_concurrency
    error_message = "presence_reserved_concurrency must be -1 (unreserved) or a whole number >= 0 (0 disables the function)."
  }
}

variable "presence_events" {
  type        = list(string)
  description = "PRESENCE_EVENTS: the channels whose subscribers get join and leave events, as patterns: an exact channel name (lobby), a prefix ending in * (room-*), or * for every channel. Each event costs one post per member of its channel. Empty (the default): no events, and no event source on the table's stream."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for pattern in var.presence_events : can(regex("^([A-Za-z0-9_.:-]{1,128}|[A-Za-z0-9_.:-]{0,127}\\*)$", pattern))])
    error_message = "presence_events must hold channel names (1-128 characters of A-Z a-z 0-9 _ - . :), prefixes of up to 127 such characters followed by *, or * alone."
  }

  validation {
    condition     = length(var.presence_events) <= 20 && length(distinct(var.presence_events)) == length(var.presence_events)
    error_message = "presence_events holds at most 20 patterns, each once (they become one filter of the stream's event source mapping)."
  }
}

variable "presence_batch_size" {
  type        = number
  description = "Stream records (membership changes, after the filter) one presence invocation receives at most."
  default     = 100

  validation {
    condition     = var.presence_batch_size >= 1 && var.presence_batch_size <= 10000 && floor(var.presence_batch_size) == var.presence_batch_size
    error_message = "presence_batch_size must be a whole number between 1 and 10000 (Lambda's limit for a DynamoDB stream)."
  }
}

variable "presence_batching_window_seconds" {
  type        = number
  description = "Seconds Lambda may wait to fill a presence batch: fewer invocations when many join at once, later events. 0 invokes as soon as records arrive."
  default     = 0

  validation {
    condition     = var.presence_batching_window_seconds >= 0 && var.presence_batching_window_seconds <= 300 && floor(var.presence_batching_window_seconds) == var.presence_batching_window_seconds
    error_message = "presence_batching_window_seconds must be a whole number of seconds between 0 and 300."
  }
}

variable "presence_max_retry_attempts" {
  type        = number
  description = "Retries of a failing presence batch (split in two each time) before it is recorded in the presence dead-letter queue and the shard moves on. Bounded: a stream shard waits while its batch is retried."
  default     = 2

  validation {
    condition     = var.presence_max_retry_attempts >= 0 && var.presence_max_retry_attempts <= 10 && floor(var.presence_max_retry_attempts) == var.presence_max_retry_attempts
    error_message = "presence_max_retry_attempts must be a whole number between 0 and 10 (-1, forever, would stall the shard behind one bad record)."
  }
}

variable "presence_max_record_age_seconds" {
  type        = number
  description = "Age past which a membership change is no longer turned into an event (it goes to the presence dead-letter queue): a join announced minutes late misleads more than it helps."
  default     = 300

  validation {
    condition     = var.presence_max_record_age_seconds >= 60 && var.presence_max_record_age_seconds <= 3600 && floor(var.presence_max_record_age_seconds) == var.presence_max_record_age_seconds
    error_message = "presence_max_record_age_seconds must be a whole number of seconds between 60 and 3600 (-1, forever, is refused)."
  }
}

variable "history_ttl_seconds" {
  type        = number
  description = "HISTORY_TTL_SECONDS: how long each channel's messages are kept for recovery (subscribe with since, GET /channels/{channel}/messages). The default 600 covers a reconnect after API Gateway's 10-minute idle cut. 0 turns history off (offsets are still taken)."
  default     = 600

  validation {
    condition     = var.history_ttl_seconds >= 0 && var.history_ttl_seconds <= 86400 && floor(var.history_ttl_seconds) == var.history_ttl_seconds
    error_message = "history_ttl_seconds must be a whole number of seconds between 0 (history off) and 86400 (a day)."
  }
}

variable "history_max" {
  type        = number
  description = "HISTORY_MAX: the most messages per channel a replay may take (older ones are skipped, then deleted by TTL). 0 turns history off."
  default     = 1000

  validation {
    condition     = var.history_max >= 0 && var.history_max <= 100000 && floor(var.history_max) == var.history_max
    error_message = "history_max must be a whole number between 0 (history off) and 100000."
  }
}

variable "token_issuers" {
  type = list(object({
    issuer                   = string
    jwks_url                 = string
    audience                 = optional(string)
    client_id                = optional(string)
    token_use                = optional(string)
    channels_claim           = optional(string)
    channels                 = optional(list(string))
    publish_claim            = optional(string)
    publish                  = optional(list(string))
    jwks_min_refresh_seconds = optional(number)
    jwks_timeout_ms          = optional(number)
    jwks_max_age_seconds     = optional(number)
  }))
  description = "TOKEN_ISSUERS of rx and commands: identity providers (OpenID Connect, such as Cognito or Auth0) whose RS256/ES256 tokens are accepted beside this deployment's own, with subscriber_auth = \"token\". Each: issuer (its iss, https), jwks_url (https; http only on 127.0.0.1, localhost or [::1]), audience (its aud) or, for Cognito access tokens, which have none, client_id (not both), and token_use; channels_claim (the claim holding channel patterns) and/or channels (patterns or templates such as user:{sub}:*, where {sub} is the only placeholder), and likewise publish_claim and/or publish, at least one of the four; optionally jwks_min_refresh_seconds (1-3600, default 30), jwks_timeout_ms (100-10000, default 2000) and jwks_max_age_seconds (60-86400, default 3600). The same issuer may be listed twice (a Cognito pool's ID and access tokens), with the same jwks_url and another audience, client_id or token_use. Checked as the functions check TOKEN_ISSUERS at start (docs/identity-providers.md)."
  default     = []
  nullable    = false

  validation {
    # Measured as TOKEN_ISSUERS carries it (main.tf): unset attributes left out.
    condition     = length(var.token_issuers) <= 5 && length(jsonencode([for i in var.token_issuers : { for key, value in i : key => value if value != null }])) <= 1500
    error_message = "token_issuers holds at most 5 issuers and 1,500 characters of JSON (as TOKEN_ISSUERS, without unset attributes): TOKEN_ISSUERS shares the 4 KB of a function's environment with TOKEN_PUBLIC_KEYS and the rest."
  }

  validation {
    condition = alltrue([
      for i in var.token_issuers :
      can(regex("^https://[^\\s/?#]+(/[^\\s?#]*)?$", i.issuer)) && can(regex("^[!-~]{1,512}$", i.issuer))
    ])
    error_message = "Each issuer of token_issuers must be an https URL without query or fragment, exactly as its tokens' iss claim (printable ASCII, at most 512 characters)."
  }

  validation {
    condition = alltrue([
      for i in var.token_issuers :
      (can(regex("^https://[^\\s/?#]+/[^\\s#]*$", i.jwks_url)) || can(regex("^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,5})?/[^\\s#]*$", i.jwks_url))) && can(regex("^[!-~]{1,512}$", i.jwks_url))
    ])
    error_message = "Each jwks_url of token_issuers must be an https URL with a path, or http on 127.0.0.1, localhost or [::1] (tests, the local gateway), in printable ASCII, at most 512 characters."
  }

  validation {
    condition     = alltrue([for i in var.token_issuers : (i.audience == null) != (i.client_id == null)])
    error_message = "Each issuer of token_issuers needs an audience (the aud its tokens carry for this service) or, for Cognito access tokens, which have no aud, a client_id; not both (list the issuer twice to accept both kinds of token)."
  }

  validation {
    condition = alltrue(flatten([
      for i in var.token_issuers : [
        for text in [i.audience, i.client_id, i.channels_claim, i.publish_claim] :
        text == null ? true : (
          # Bytes, as the functions count them: each character, plus one
          # beyond U+007F, one more beyond U+07FF and one more beyond U+FFFF.
          length(text) > 0 && !can(regex("[\\x00-\\x1f\\x7f-\\x9f]", text)) &&
          length(regexall("(?s).", text)) + length(regexall("[^\\x00-\\x7f]", text)) + length(regexall("[^\\x00-\\x{7ff}]", text)) + length(regexall("[^\\x00-\\x{ffff}]", text)) <= 512
        )
      ]
    ]))
    error_message = "audience, client_id, channels_claim and publish_claim of token_issuers must each be unset or 1 to 512 bytes without control characters."
  }

  validation {
    condition     = alltrue([for i in var.token_issuers : contains(["access", "id"], coalesce(i.token_use, "access"))])
    error_message = "token_use of token_issuers must be access or id (Cognito's token_use claim), or unset."
  }

  validation {
    condition = alltrue(flatten([
      for i in var.token_issuers : [
        for templates in [i.channels, i.publish] : templates == null ? true : length(templates) <= 100 && alltrue([
          for template in templates :
          length(template) >= 1 && length(template) <= 128 && can(regex("^([A-Za-z0-9_.:-]|\\{sub\\})*\\*?$", template))
        ])
      ]
    ]))
    error_message = "channels and publish of token_issuers hold at most 100 channel patterns each, of 1 to 128 characters: a name, a prefix ending in *, or *, where {sub} (the token's sub, the only placeholder) may stand for part of a name, as in user:{sub}:*."
  }

  validation {
    condition = alltrue([
      for i in var.token_issuers :
      i.channels_claim != null || i.publish_claim != null || length(i.channels == null ? [] : i.channels) > 0 || length(i.publish == null ? [] : i.publish) > 0
    ])
    error_message = "Each issuer of token_issuers must grant something: set channels_claim, channels, publish_claim or publish."
  }

  validation {
    condition = alltrue(flatten([
      for i in var.token_issuers : [
        i.jwks_min_refresh_seconds == null ? true : i.jwks_min_refresh_seconds >= 1 && i.jwks_min_refresh_seconds <= 3600 && floor(i.jwks_min_refresh_seconds) == i.jwks_min_refresh_seconds,
        i.jwks_timeout_ms == null ? true : i.jwks_timeout_ms >= 100 && i.jwks_timeout_ms <= 10000 && floor(i.jwks_timeout_ms) == i.jwks_timeout_ms,
        i.jwks_max_age_seconds == null ? true : i.jwks_max_age_seconds >= 60 && i.jwks_max_age_seconds <= 86400 && floor(i.jwks_max_age_seconds) == i.jwks_max_age_seconds,
      ]
    ]))
    error_message = "In token_issuers, jwks_min_refresh_seconds must be a whole number from 1 to 3600, jwks_timeout_ms from 100 to 10000 and jwks_max_age_seconds from 60 to 86400 (or unset: 30, 2000 and 3600)."
  }

  validation {
    condition = alltrue([
      for i in var.token_issuers :
      (i.jwks_max_age_seconds == null ? 3600 : i.jwks_max_age_seconds) >= (i.jwks_min_refresh_seconds == null ? 30 : i.jwks_min_refresh_seconds)
    ])
    error_message = "In token_issuers, jwks_max_age_seconds (default 3600) must be at least jwks_min_refresh_seconds (default 30)."
  }

  validation {
    # What the functions refuse: the same issuer, audience (or client_id) and
    # token_use twice. The same issuer with another of these is how a Cognito
    # pool's ID and access tokens are both accepted.
    condition     = length(distinct([for i in var.token_issuers : jsonencode([i.issuer, i.audience, i.client_id, i.token_use])])) == length(var.token_issuers)
    error_message = "An issuer appears in token_issuers at most once with the same audience, client_id and token_use."
  }

  validation {
    condition = alltrue([
      for i in var.token_issuers :
      length(distinct([for j in var.token_issuers : j.jwks_url if j.issuer == i.issuer])) == 1
    ])
    error_message = "An issuer listed more than once in token_issuers has the same jwks_url in each entry (its keys are fetched and cached once)."
  }
}

variable "publish_authorization" {
  type        = string
  description = "Authorization of the HTTP API routes that publish, count and read history and presence (all but GET /.well-known/jwks.json, which is always open, and POST /tokens, which token_authorization sets): AWS_IAM requires SigV4-signed requests with execute-api:Invoke; NONE opens them to the internet, so that anyone may publish."
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "NONE"], var.publish_authorization)
    error_message = "publish_authorization must be AWS_IAM or NONE."
  }

  validation {
    condition     = var.publish_authorization == "AWS_IAM" || var.subscriber_auth == "none" || var.token_authorization == "AWS_IAM"
    error_message = "publish_authorization = NONE with subscriber_auth = token would open POST /tokens to the internet (token_authorization = null follows publish_authorization): anyone could mint a token for any channel. Keep minting behind IAM with token_authorization = \"AWS_IAM\" (its default), or set subscriber_auth = \"none\"."
  }
}

variable "token_authorization" {
  type        = string
  description = "Authorization of POST /tokens, which mints subscriber tokens: AWS_IAM (the default) requires SigV4-signed requests with execute-api:Invoke (the token_invoke_arn output); null follows publish_authorization. It cannot be NONE while subscriber_auth = \"token\": open minting would undo the tokens."
  default     = "AWS_IAM"

  validation {
    condition     = var.token_authorization == null ? true : contains(["AWS_IAM", "NONE"], var.token_authorization)
    error_message = "token_authorization must be AWS_IAM, NONE or null (null: as publish_authorization)."
  }

  validation {
    condition     = var.subscriber_auth == "none" || var.token_authorization != "NONE"
    error_message = "token_authorization = NONE with subscriber_auth = token lets anyone mint a token for any channel: tokens would protect nothing. Use AWS_IAM, or subscriber_auth = \"none\"."
  }
}

variable "cors_allowed_origins" {
  type        = list(string)
  description = "Origins (scheme://host[:port]) whose browser pages may call the HTTP API: API Gateway answers their CORS preflight requests and adds the CORS headers. Empty (the default): no CORS, browsers on other origins are refused. IAM still applies to every route but the JWKS."
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for origin in var.cors_allowed_origins :
      can(regex("^https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$", origin)) || can(regex("^http://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:[0-9]{1,5})?$", origin))
    ])
    error_message = "Each of cors_allowed_origins must be an origin, https://host or https://host:port in lower case without a path (http only for localhost, 127.0.0.1 or [::1]); * is refused: list the origins."
  }

  validation {
    condition     = length(var.cors_allowed_origins) <= 20 && length(distinct(var.cors_allowed_origins)) == length(var.cors_allowed_origins)
    error_message = "cors_allowed_origins holds at most 20 origins, each once."
  }
}

variable "subscriber_auth" {
  type        = string
  description = "Who may listen (SUBSCRIBER_AUTH of both functions). token: $connect needs a subscriber token (?token=JWT) granting the channel, minted by POST /tokens and signed by a KMS asymmetric key created for it ($1/month, plus KMS requests). none: anyone who knows the WebSocket URL may join any channel (the open demo; no signing key)."
  default     = "token"

  validation {
    condition     = contains(["token", "none"], var.subscriber_auth)
    error_message = "subscriber_auth must be token or none."
  }
}

variable "token_max_ttl_seconds" {
  type        = number
  description = "TOKEN_MAX_TTL_SECONDS: the longest lifetime, in seconds, POST /tokens grants a subscriber token. Tokens cannot be revoked one by one, so this bounds how long a leaked token opens its channels. Ignored with subscriber_auth = \"none\"."
  default     = 86400

  validation {
    condition     = var.token_max_ttl_seconds >= 1 && var.token_max_ttl_seconds <= 604800 && floor(var.token_max_ttl_seconds) == var.token_max_ttl_seconds
    error_message = "token_max_ttl_seconds must be a whole number of seconds between 1 and 604800 (a week)."
  }
}

variable "token_previous_public_keys" {
  type        = list(string)
  nullable    = false
  description = "Public keys of earlier token signing keys that rx and commands still accept (and the JWKS still lists) after the signing key was replaced, e.g. with `terraform apply -replace='aws_kms_key.tokens[0]'`: each the base64 DER `public_key` of data.aws_kms_public_key, as the `token_public_key` output showed it. Drop them once the tokens they signed have expired (token_max_ttl_seconds). At most 10."
  default     = []

  validation {
    condition = alltrue([
      for key in var.token_previous_public_keys :
      can(regex("^MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE[A-Za-z0-9+/]{86}==$", key))
    ])
    error_message = "token_previous_public_keys must hold P-256 public keys as base64 DER SubjectPublicKeyInfo (124 characters starting MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE), as KMS GetPublicKey returns them."
  }

  validation {
    condition     = length(var.token_previous_public_keys) <= 10
    error_message = "token_previous_public_keys holds at most 10 keys: each takes 125 of the 4 KB Lambda allows a function's environment (TOKEN_PUBLIC_KEYS), and a key is needed only until the tokens it signed expire (at most token_max_ttl_seconds, a week)."
  }
}

variable "websocket_throttling_rate_limit" {
  type        = number
  description = "Steady-state requests per second the WebSocket stage accepts (connects and messages)."
  default     = 500

  validation {
    condition     = var.websocket_throttling_rate_limit > 0 && var.websocket_throttling_rate_limit <= 10000
    error_message = "websocket_throttling_rate_limit must be greater than 0 and at most 10000 (the account default)."
  }
}

variable "websocket_throttling_burst_limit" {
  type        = number
  description = "Burst of requests the WebSocket stage accepts above the rate limit."
  default     = 1000

  validation {
    condition     = var.websocket_throttling_burst_limit >= 1 && var.websocket_throttling_burst_limit <= 5000 && floor(var.websocket_throttling_burst_limit) == var.websocket_throttling_burst_limit
    error_message = "websocket_throttling_burst_limit must be a whole number between 1 and 5000 (the account default)."
  }
}

variable "http_throttling_rate_limit" {
  type        = number
  description = "Steady-state publish/count requests per second the HTTP stage accepts. Each publish fans out to a whole channel, so keep it modest."
  default     = 50

  validation {
    condition     = var.http_throttling_rate_limit > 0 && var.http_throttling_rate_limit <= 10000
    error_message = "http_throttling_rate_limit must be greater than 0 and at most 10000."
  }
}

variable "http_throttling_burst_limit" {
  type        = number
  description = "Burst of publish/count requests the HTTP stage accepts above the rate limit."
  default     = 100

  validation {
    condition     = var.http_throttling_burst_limit >= 1 && var.http_throttling_burst_limit <= 5000 && floor(var.http_throttling_burst_limit) == var.http_throttling_burst_limit
    error_message = "http_throttling_burst_limit must be a whole number between 1 and 5000."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the Lambda and API access log groups, in days (one of the values CloudWatch Logs accepts)."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_level" {
  type        = string
  description = "Application log level of the functions (Lambda passes it to the binaries as AWS_LAMBDA_LOG_LEVEL and filters their JSON lines by it). TRACE, DEBUG or INFO: the publish metrics are Embedded Metric Format lines without a level, which Lambda files as INFO, so a higher level (WARN, ERROR, FATAL) would drop them, and with them the Delivered/Gone/Failed metrics the failure runbook reads."
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO"], var.log_level)
    error_message = "log_level must be TRACE, DEBUG or INFO: at WARN and above Lambda drops the publish metrics (EMF lines carry no level, so Lambda files them as INFO)."
  }
}

variable "system_log_level" {
  type        = string
  description = "Lambda platform log level. WARN drops the START/END/REPORT lines of every invocation (duration and memory remain CloudWatch metrics); INFO keeps them."
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be DEBUG, INFO or WARN."
  }
}

variable "tracing_mode" {
  type        = string
  description = "X-Ray tracing of the functions: Active samples and records invocations, PassThrough only follows upstream sampling decisions."
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Whether this deployment sets API Gateway's account-level CloudWatch Logs role in its Region, which WebSocket stages need for access logs. false (the default): the setting is one per account and Region, shared by every REST and WebSocket API there, and with provider 6.x destroying it (terraform destroy, or turning this off) resets it for all of them; set it once outside Terraform instead (docs/deploy.md). true: Terraform replaces whatever role was set, and resets the setting on destroy."
  default     = false
  nullable    = false
}

variable "table_deletion_protection" {
  type        = bool
  description = "Protect the channels table from deletion (DynamoDB deletion protection). It holds each channel's offset counter and recent history as well as live connections: losing it gives every channel a new epoch, which clients see as lost history. `terraform destroy` fails while it is on: set it to false and apply first (docs/deploy.md)."
  default     = true
  nullable    = false
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the customer managed KMS keys (the data key and, with subscriber_auth = \"token\", the token signing key) are deleted after `terraform destroy`."
  default     = 7

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (added to Project and ManagedBy)."
  default     = {}
  nullable    = false

  validation {
    condition = length(var.tags) <= 40 && alltrue([
      for key, value in var.tags :
      length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")
    ])
    error_message = "tags holds at most 40 tags (AWS allows 50 per resource, two are this module's), keys of 1-128 characters not starting with aws:, values of at most 256."
  }
}
