{#- The hosts behind `fct_bookings.host_key`, with their names: for the owners' page
    only (reporting_private). -#}
with

chains as (

    select * from {{ ref('int_booking_chains') }}

),

keyed as (

    select
        {{ host_key('host_user_id', 'host_email') }} as host_key,
        host_user_id,
        host_name,
        host_email,
        booked_at

    from chains

),

final as (

    select distinct on (host_key)
        cast(host_key as text) as host_key,
        cast(host_user_id as text) as host_user_id,
        cast(coalesce(host_name, host_email, 'Unknown host') as text) as host_name,
        cast(host_email as text) as host_email

    from keyed
    order by host_key, (host_name is not null) desc, booked_at desc nulls last

)

select * from final
