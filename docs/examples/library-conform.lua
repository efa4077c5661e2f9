local kumo = require 'kumo'

kumo.on('main', function()
  -- Jinja (MiniJinja, kumod's engine) escapes by the template name's extension
  assert(kumo.string.eval_template('t.html', '{{ who }}', { who = 'A&B' }) == 'A&amp;B')
  assert(kumo.string.eval_template('t.txt', '{{{ titleCase who }}}', { who = 'fred' },
                                   'Handlebars') == 'Fred')

  -- AES blocks and AWS SigV4, keys given as KeySources
  local key = { key = { key_data = '0123456789abcdef' } }
  local secret = kumo.crypto.aes_encrypt_block('Cbc', 'hello', key)
  assert(kumo.crypto.aes_decrypt_block('Cbc', secret, key).bytes == 'hello')
  local signed = kumo.crypto.aws_sign_v4 {
    access_key = { key_data = 'AKID' }, secret_key = { key_data = 'secret' },
    region = 'us-east-1', service = 's3', method = 'GET', uri = '/x',
    headers = { host = 'bucket.s3.amazonaws.com' }, timestamp = '2025-01-02T03:04:05Z',
  }
  assert(signed.timestamp == '20250102T030405Z')

  -- process-wide counters and queues
  local series = kumo.counter_series.define { name = 'sent', num_buckets = 6, bucket_size = '10s' }
  series:increment(3)
  assert(series:sum() == 3)
  local q = kumo.mpsc.define 'work'
  q:send { job = 1 }
  assert(q:try_recv().job == 1)

  -- ACLs: a get_acl_definition handler, else kumod's default ACL
  local url = kumo.aaa.make_http_url_resource('127.0.0.1:8000', 'http://h/api/admin/bounce/v1')
  local answer = kumo.aaa.query_resource_access(url,
    { groups = { 'kumomta:http-listener-trusted-ip' } }, 'POST')
  assert(answer.allow and answer.resource == 'http_listener/*/api/admin')

  -- SPF and DMARC against the fake resolver
  kumo.dns.configure_test_resolver { zones = { [[
$ORIGIN example.com.
@ 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject"
]] } }
  local msg = kumo.make_message('bounce@example.com', 'rcpt@example.net',
                                'From: news@example.com\r\nSubject: hi\r\n\r\nhello\r\n')
  msg:set_meta('received_from', '192.0.2.10:4321')
  local spf = kumo.spf.check_msg(msg)
  assert(spf.disposition == 'pass', spf.result.reason)
  local dmarc = kumo.dmarc.check_msg(msg, {}, nil, spf.result, false)
  assert(dmarc.disposition == 'Pass')
  assert(msg:arc_verify().result == 'none')
  print('all checks passed')
end)
