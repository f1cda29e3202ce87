-- Invariant: the BI-safe `reporting` schema holds no names, emails or phone numbers.
select table_name, column_name
from information_schema.columns
where table_schema = '{{ var("reporting_schema") }}'
  and (column_name like '%email%' or column_name like '%name%' or column_name like '%phone%'
       or column_name like '%sms%')
