{#- Every API booking snapshot, with the reason it is kept out of the booking chains
    (`feed_problem`), or null when usable: the same bad-data rule as webhooks. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_id',
    indexes=[{'columns': ['snapshot_id'], 'unique': true}, {'columns': ['booking_uid']},
             {'columns': ['rescheduled_to_uid']}],
) }}

with

snapshots as (

    select * from {{ ref('stg_calcom__api_bookings') }}
    {% if is_incremental() %}
    where {{ is_changed() }}
    {% endif %}

),

final as (

    select
        *,
        case
            when not is_parsed then 'unreadable_body'
            when oversized_fields is not null or oversized_attendees is not null
                then 'oversized_value'
            when unreadable_timestamp_fields is not null then 'unreadable_timestamp'
            when booking_uid is null then 'missing_booking_uid'
        end as feed_problem,
        case
            when not is_parsed then 'the API returned a booking that is not a JSON object'
            when oversized_fields is not null or oversized_attendees is not null
                then 'a value too long to be a key: ' || concat_ws(', ', oversized_fields,
                    oversized_attendees || ' attendee(s) with a value over its limit')
            when unreadable_timestamp_fields is not null
                then 'not a real instant: ' || unreadable_timestamp_fields
            when booking_uid is null then 'no booking uid'
        end as feed_problem_detail

    from (
        -- the snapshot's attendees whose email, name, seat uid or seat lead id is too long
        select
            snapshots.*,
            nullif((select count(*)
                    from {{ ref('stg_calcom__api_booking_attendees') }} as attendees
                    where attendees.snapshot_id = snapshots.snapshot_id
                      and attendees.is_oversized), 0) as oversized_attendees
        from snapshots
    ) as counted

)

select * from final
