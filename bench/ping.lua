-- wrk script: realistic ~700-byte usage pings (the environment tags included, as the
-- client sends them), each with a fresh document id.
local counter = 0
local body = '{"client_id":"6afdd0cd-1819-4217-a578-ad066a288ba5","project_version":"1.2.3",'
  .. '"library":{"name":"sempervirens-python","version":"0.1.0"},'
  .. '"period":{"start":"2026-11-29T10:00:00Z","end":"2026-11-29T11:00:00Z"},'
  .. '"environment":{"os":"Linux","arch":"x86_64","python_implementation":"CPython",'
  .. '"python_version":"3.11.7","cpu_count":8,"memory_total":16000000000,"ci":false,'
  .. '"platform_tag":"manylinux_2_36_x86_64","scheduler":"none","container":"none",'
  .. '"notebook":"none","install":"pip-venv","ci_provider":"none"},'
  .. '"metrics":{"counters":{"io.read_csv":3,"io.write_csv":1,"core.fit":10},'
  .. '"labeled_counters":{"io.read":{"csv":3,"parquet":1}},'
  .. '"timings":{"solve":{"count":3,"sum_us":3000,"buckets":{"39":3}}},'
  .. '"memory":{"peak_rss_bytes":123456789}}}'
local headers = {["Content-Type"] = "application/json"}
math.randomseed(os.time())
local run = string.format("%08x", math.random(0, 0x7fffffff))

request = function()
  counter = counter + 1
  local id = string.format("%s-0000-4000-8000-%012x", run, counter)
  return wrk.format("POST", "/submit/numpy/usage/1/" .. id, headers, body)
end
