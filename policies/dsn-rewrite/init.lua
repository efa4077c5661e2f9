-- Example KumoMTA policy: turn some remote deferrals into permanent
-- failures before KumoMTA classifies them.
--
-- Written in the style of KumoMTA's smtp_client_rewrite_delivery_status
-- documentation: it loads its rules from an absolute path, and caches the
-- compiled rule set with kumo.memoize so the JSON file is read at most once
-- every five minutes.
--
-- The rules file maps a regular expression (Rust regex syntax) to the SMTP
-- code to use instead when a response matches it.
local kumo = require 'kumo'
local RULES_PATH = '/opt/kumomta/etc/policy/dsn_rewrite.json'

local load_rewrite_rules = kumo.memoize(function()
  local rules = kumo.json_load(RULES_PATH)
  return kumo.regex_set_map.new(rules)
end, {
  name = 'dsn_rewrite_rules',
  ttl = '5 minutes',
  capacity = 1,
})

kumo.on(
  'smtp_client_rewrite_delivery_status',
  function(response, domain, tenant, campaign, routing_domain)
    local rules = load_rewrite_rules()
    -- nil (no rule matched) keeps the original status
    return rules[response]
  end
)
