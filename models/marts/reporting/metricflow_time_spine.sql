{#- One row per day: MetricFlow's time spine (cumulative metrics, offsets). -#}
with

days as (

    select cast(day as date) as date_day
    from generate_series(
        cast('2015-01-01' as timestamp), cast('2040-12-31' as timestamp), interval '1 day'
    ) as series (day)

)

select * from days
